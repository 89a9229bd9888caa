"""Which questions a session asks: practice (the FSRS schedule, today's plan), tailor (questions for a job
description), topic (questions about a few words), plan (one `plan_session` for the app and the terminal)."""
