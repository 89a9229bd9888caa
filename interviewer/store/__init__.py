"""Where sessions live: `SessionDB` opens a database once and is each repository over it. database (SQLite or
PostgreSQL connections), migrations (numbered schema changes), one repository per table group (sessions and turns, grades and claims, the practice schedule, accounts, reviews and
people's anchors), and forget (a person's data deleted, recordings included)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from interviewer.store import migrations
from interviewer.store.accounts import Accounts
from interviewer.store.database import open_database
from interviewer.store.grades import Grades
from interviewer.store.reviews import Reviews
from interviewer.store.schedule import Schedule
from interviewer.store.sessions import Sessions


class SessionDB(Sessions, Grades, Schedule, Accounts):
    """A sessions database, opened once (one connection pool, its migrations applied) and serving every table group's
    repository. Code that needs one group takes that repository's type (`Grades`, `Schedule`...); this is what the
    app, the CLI and the tests open. The reviews share its database: `reviews`."""

    def __init__(self, target: Path | str, *, schema: Sequence[migrations.Migration] = migrations.MIGRATIONS) -> None:
        """`target`: a SQLite file path, or a postgresql:// URL."""
        super().__init__(open_database(target))
        self.migrated = migrations.migrate(self.database, schema)
        self.reviews = Reviews(self.database)

    def describe(self) -> str:
        return self.database.describe()

    def close(self) -> None:
        self.database.close()

    def schema(self) -> list[str]:
        """The migrations this database has had, oldest first."""
        with self._connect() as con:
            return migrations.applied(con)

    def delete_user(self, user: str) -> int:
        """Everything stored about a user, in one transaction: sessions (with their turns, grades and the anchors made
        from their reviews), the seen-questions list and the practice schedule."""
        with self._connect() as con:
            n = con.execute('DELETE FROM sessions WHERE "user"=?', (user,)).rowcount
            con.execute('DELETE FROM seen WHERE "user"=?', (user,))
            con.execute('DELETE FROM schedule WHERE "user"=?', (user,))
        self.database.scrub()  # SQLite: no copy of the deleted rows left in its log
        return n
