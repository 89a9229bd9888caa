"""Where sessions live: database (SQLite or PostgreSQL connections), migrations (numbered schema changes), one
repository per table group (sessions and turns, grades and claims, the practice schedule, accounts, reviews and
people's anchors), and forget (a person's data deleted, recordings included)."""
