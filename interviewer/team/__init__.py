"""Team mode: accounts (sign-in, roles, who may open what), throttle (sign-in back-off), cohort (the instructors'
table)."""
