"""An answer's grade after the conversation has moved on: jobs (grades on a pool beside the conversation, claimed in
the database), queue (the tickets behind "N answers ahead of yours"), recovery (grades lost with a process, queued
again without opening their sessions)."""
