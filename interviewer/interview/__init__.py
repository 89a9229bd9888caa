"""The interview: session (its state), intents (what a message is), picking (the next question), conversation (leak
check, clarifications, follow-ups, hints), transcript (utterances), agent (the interviewer), db (persistence), report."""
