"""What the interviewer says: one `Utterance` per message, ready or streamed, saved once complete; and the
`TranscriptWriter` that numbers and saves every turn of a session."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator

from interviewer.store.sessions import Sessions
from interviewer.session import Session, Turn


class Utterance:
    """One interviewer message. Its text is ready, or produced by iterating (streamed model output).

    The turn is saved when the text is complete, under a sequence number reserved when the utterance was created,
    so the stored transcript keeps the order the candidate saw. A `background` utterance (an answer's feedback) may
    take a while: the caller shows a placeholder in its place and the utterances after it at once, then fills it in.
    """

    def __init__(self, kind: str, text: str = "", chunks: Iterable[str] | None = None,
                 on_done: Callable[[Utterance], None] | None = None, background: bool = False,
                 origin: str = "") -> None:
        self.kind = kind
        self.background = background
        self.origin = origin  # model, template or model+template (the model's line was unusable or gave too much)
        self.text = text
        self._chunks = chunks
        self._on_done = on_done
        self.done = chunks is None

    @property
    def streaming(self) -> bool:
        return not self.done

    def __iter__(self) -> Iterator[str]:
        if self.done:
            yield self.text
            return
        buf: list[str] = []
        try:
            for piece in self._chunks:
                buf.append(piece)
                yield piece
        finally:
            self.text, self.done = "".join(buf).strip(), True
            if self._on_done:
                self._on_done(self)

    def resolve(self) -> str:
        for _ in self:
            pass
        return self.text

    def __repr__(self) -> str:
        return f"Utterance({self.kind!r}, {self.text[:40]!r}{', streaming' if self.streaming else ''})"


class TranscriptWriter:
    """Turn numbers are reserved when a turn begins and the turn is saved when its text is complete, so a streamed
    line keeps its place. Another writer of the same session (a second tab, a second process) may take a number
    first: the database moves ours after it and the in-memory transcript follows."""

    def __init__(self, session: Session, db: Sessions) -> None:
        self.session, self.db = session, db
        self._lock = threading.RLock()
        self._seq = max((t.seq for t in session.turns), default=-1) + 1

    def next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq - 1

    def record(self, turn: Turn) -> None:
        with self._lock:
            self.db.add_turn(self.session.id, turn)  # may move turn.seq past another writer's turns
            self._seq = max(self._seq, turn.seq + 1)
            self.session.turns = sorted([t for t in self.session.turns if t is not turn and t.seq != turn.seq] + [turn],
                                        key=lambda t: t.seq)

    def say(self, kind: str, text: str = "", chunks: Iterable[str] | None = None, index: int | None = None,
            background: bool = False, origin: str = "") -> Utterance:
        """An interviewer utterance about question `index` (default: the current one)."""
        seq = self.next_seq()
        if index is None and self.session.current is not None:
            index = self.session.current.index

        def done(u: Utterance) -> None:
            self.record(Turn(seq=seq, role="interviewer", kind=u.kind, text=u.text, question_index=index))

        u = Utterance(kind, text, chunks, on_done=done, background=background, origin=origin)
        if chunks is None:
            done(u)
        return u
