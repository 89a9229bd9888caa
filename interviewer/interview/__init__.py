"""The conversation: intents (what a message is), picking (the next question), conversation (leak check,
clarifications, follow-ups, hints), phrasing (model lines with checked fallbacks), redirect (answers off the
question), transcript (utterances), agent (the interviewer: the flow)."""
