"""The session database, each test on SQLite and on PostgreSQL (a schema of its own on the server that `make test`
starts; skipped with the reason when there is none)."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from interviewer.store import SessionDB
from interviewer.grading.grade import Grade, KeyPointResult
from interviewer.session import QuestionRecord, Session, SessionConfig, Turn


@pytest.fixture
def target(db_target):
    return db_target


@pytest.fixture
def db(db_target):
    opened = SessionDB(db_target)
    yield opened
    opened.close()


def _session(user="ann", **cfg) -> Session:
    return Session(config=SessionConfig(user=user, **cfg))


def _record(i=0, qid="guide-02") -> QuestionRecord:
    return QuestionRecord(index=i, question_id=qid, tier="fresher", concepts=["neural-network-basics"],
                          question="Explain a deep neural network?")


def test_wal_mode_and_roundtrip(db, target):
    s = _session(track="advanced", n_questions=3, concepts=["cnns"], mode="practice")
    db.create(s)
    rec = _record()
    rec.answers.append("It has many hidden layers.")
    db.save_question(s.id, rec)
    db.add_turn(s.id, Turn(seq=0, role="interviewer", kind="question", text="Q?", question_index=0))
    db.add_turn(s.id, Turn(seq=1, role="candidate", kind="answer", text="It has many hidden layers.",
                           question_index=0))
    s.phase, s.level = "awaiting_followup", 2
    db.save_state(s)

    if db.database.dialect == "sqlite":
        with sqlite3.connect(target) as con:
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    back = db.load(s.id)
    assert back.config == s.config
    assert back.phase == "awaiting_followup" and back.level == 2
    assert [t.text for t in back.turns] == ["Q?", "It has many hidden layers."]
    assert back.questions[0].answers == ["It has many hidden layers."]
    assert back.questions[0].grade is None
    assert db.load("nope") is None


def test_grade_column_survives_record_updates(db):
    """The grading worker and the conversation write the same question row; neither may erase the other."""
    s = _session()
    db.create(s)
    rec = _record()
    db.save_question(s.id, rec)
    grade = Grade(question_id="guide-02", score=3.5,
                  key_points=[KeyPointResult(point="p", status="covered", similarity=0.8)])
    db.save_grade(s.id, 0, grade)
    rec.closed = True
    db.save_question(s.id, rec)  # the record, saved later without a grade, keeps the stored grade
    back = db.load(s.id).questions[0]
    assert back.closed and back.grade.score == 3.5 and back.grade.points("covered") == ["p"]


def test_history_lists_scores_per_session(db):
    a, b = _session(user="ann"), _session(user="bob")
    for s in (a, b):
        db.create(s)
    for i, score in enumerate([2.0, 4.0]):
        db.save_question(a.id, _record(i, f"q-{i}"))
        db.save_grade(a.id, i, Grade(question_id=f"q-{i}", score=score))
    db.save_question(a.id, _record(2, "q-2"))  # asked, not yet graded
    [summary] = db.list_sessions("ann")
    assert summary.asked == 3 and summary.graded == 2 and summary.score == 3.0
    assert {x.id for x in db.list_sessions()} == {a.id, b.id}
    assert db.users() == ["ann", "bob"]


def test_delete_user_removes_everything_of_that_user_only(db):
    a, b = _session(user="ann"), _session(user="bob")
    for s in (a, b):
        db.create(s)
        db.save_question(s.id, _record())
        db.add_turn(s.id, Turn(seq=0, role="interviewer", kind="question", text="Q?"))
    db.mark_seen("ann", ["guide-02"])
    db.mark_seen("bob", ["guide-03"])
    assert db.delete_user("ann") == 1
    assert db.load(a.id) is None and db.list_sessions("ann") == []
    assert db.recent_question_ids("ann") == []
    assert db.load(b.id).turns and db.recent_question_ids("bob") == ["guide-03"]
    with db._connect() as con:  # cascades removed the children too
        assert con.execute("SELECT COUNT(*) FROM turns WHERE session_id=?", (a.id,)).fetchone()[0] == 0
        assert con.execute("SELECT COUNT(*) FROM questions WHERE session_id=?", (a.id,)).fetchone()[0] == 0


def test_recent_question_ids_newest_first(db):
    db.mark_seen("ann", ["a", "b"])
    db.mark_seen("ann", ["c"])
    db.mark_seen("ann", ["a"])  # seen again: moves to the front
    recent = db.recent_question_ids("ann")
    assert recent[0] == "a" and set(recent) == {"a", "b", "c"}
    assert db.recent_question_ids("ann", limit=1) == ["a"]


def test_concurrent_writers_do_not_lose_turns(db):
    sessions = [_session(user=f"u{i}") for i in range(4)]
    for s in sessions:
        db.create(s)

    def write(s):
        for k in range(25):
            db.add_turn(s.id, Turn(seq=k, role="candidate", kind="answer", text=f"{s.id}-{k}"))

    threads = [threading.Thread(target=write, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in sessions:
        assert [t.text for t in db.load(s.id).turns] == [f"{s.id}-{k}" for k in range(25)]


def test_a_second_writer_of_the_same_seq_is_appended_not_overwritten(db):
    s = _session()
    db.create(s)
    mine = Turn(seq=0, role="candidate", kind="message", text="mine")
    assert db.add_turn(s.id, mine) == 0
    mine.kind = "answer"  # the same turn saved again (its kind decided later) updates in place
    assert db.add_turn(s.id, mine) == 0
    theirs = Turn(seq=0, role="candidate", kind="answer", text="from another tab")
    assert db.add_turn(s.id, theirs) == 1 and theirs.seq == 1
    turns = db.load(s.id).turns
    assert [(t.seq, t.kind, t.text) for t in turns] == [(0, "answer", "mine"), (1, "answer", "from another tab")]


# -- grade claims -----------------------------------------------------------------------------------------------------
def test_a_grade_is_claimed_by_one_grader_until_its_claim_is_stale_or_the_grade_stored(db):
    from datetime import timedelta

    from interviewer.session import now

    s = _session()
    db.create(s)
    rec = _record()
    db.save_question(s.id, rec)
    fresh, stale = now() - timedelta(minutes=10), now() + timedelta(minutes=10)  # claims after vs before these
    assert db.claim_grade(s.id, 0, "replica-a", fresh)
    assert not db.claim_grade(s.id, 0, "replica-b", fresh)  # held
    assert db.claim_grade(s.id, 0, "replica-a", fresh)  # its holder renews it
    assert db.claim_grade(s.id, 0, "replica-b", stale)  # an old claim is taken over
    assert not db.claim_grade(s.id, 0, "replica-a", fresh)
    db.save_grade(s.id, 0, None, "RuntimeError: the model went away")
    assert not db.claim_grade(s.id, 0, "replica-b", stale)  # an outcome is stored: nothing is left to grade
    assert not db.claim_grade(s.id, 9, "replica-a", stale)  # no such question


def test_ungraded_answers_are_the_closed_questions_with_no_grade_and_no_error(db):
    s = _session()
    db.create(s)
    for i in range(4):
        rec = _record(i)
        rec.closed = i > 0  # 0: still being answered
        db.save_question(s.id, rec)
    db.save_grade(s.id, 2, Grade(question_id="guide-02", score=3.0))
    db.save_grade(s.id, 3, None, "RuntimeError: the model went away")
    assert db.ungraded_answers() == [(s.id, 1)]


def test_has_accounts_by_role(db):
    from interviewer.store.accounts import StoredAccount
    from interviewer.session import now

    assert not db.has_accounts()
    db.save_account(StoredAccount(name="ann", password_hash="$argon2id$x", role="candidate", created_at=now()))
    assert db.has_accounts() and db.has_accounts("candidate") and not db.has_accounts("instructor")


# -- migrations ----------------------------------------------------------------------------------------------------
from interviewer.store import migrations  # noqa: E402


def test_a_new_database_gets_every_migration_once(target):
    first = SessionDB(target)
    assert first.migrated == [fn.__name__ for fn in migrations.MIGRATIONS]
    again = SessionDB(target)
    assert again.migrated == [] and again.schema() == first.migrated
    first.close()
    again.close()


def test_a_database_from_before_migrations_opens_with_its_data(tmp_path):
    path = tmp_path / "old.sqlite3"
    con = sqlite3.connect(path, isolation_level=None)
    migrations.m001_initial(con)  # the schema as earlier versions wrote it, with no _migrations table
    con.execute("INSERT INTO seen VALUES ('ann', 'guide-02', '2026-01-01T00:00:00')")
    con.close()
    db = SessionDB(path)
    assert db.migrated == [fn.__name__ for fn in migrations.MIGRATIONS] and db.recent_question_ids("ann") == ["guide-02"]


def _next(fn):
    """A test migration numbered after the shipped ones."""
    fn.__name__ = f"m{len(migrations.MIGRATIONS) + 1:03d}_{fn.__name__.lstrip('_')}"
    return fn


@_next
def _notes(con):
    con.execute("ALTER TABLE sessions ADD COLUMN notes TEXT NOT NULL DEFAULT ''")


@_next
def _broken(con):
    con.execute("CREATE TABLE half_done (x INTEGER)")
    raise RuntimeError("disk on fire")


def test_a_later_migration_runs_on_an_existing_database_and_keeps_rows(db, target):
    s = _session()
    db.create(s)
    upgraded = SessionDB(target, schema=[*migrations.MIGRATIONS, _notes])
    assert upgraded.migrated == [_notes.__name__]
    assert upgraded.load(s.id) is not None
    with upgraded._connect() as con:
        assert tuple(con.execute("SELECT notes FROM sessions WHERE id=?", (s.id,)).fetchone()) == ("",)
    upgraded.close()


def test_a_failing_migration_leaves_no_trace_and_is_tried_again(db, target):
    with pytest.raises(RuntimeError, match="disk on fire"):
        SessionDB(target, schema=[*migrations.MIGRATIONS, _broken])
    assert db.schema() == [fn.__name__ for fn in migrations.MIGRATIONS]
    with db._connect() as con:
        assert con.has_table("sessions") and not con.has_table("half_done")


def test_migrations_must_be_numbered_in_order():
    def m003_skipped(con):
        pass

    with pytest.raises(ValueError, match="m002"):
        migrations.check_order([migrations.m001_initial, m003_skipped])
    migrations.check_order(migrations.MIGRATIONS)


def test_openers_racing_on_a_new_database_apply_each_migration_once(target):
    results, errors = [], []

    def open_db():
        try:
            opened = SessionDB(target)
            results.append(opened.migrated)
            opened.close()
        except Exception as e:  # noqa: BLE001 - recorded for the assert
            errors.append(e)

    threads = [threading.Thread(target=open_db) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    # Each migration once in all; which opener applies which one is up to who takes the write lock first.
    assert sorted(name for applied in results for name in applied) == [fn.__name__ for fn in migrations.MIGRATIONS]
