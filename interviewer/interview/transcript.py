"""What the interviewer says: one `Utterance` per message, ready or streamed, saved once complete."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator


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
