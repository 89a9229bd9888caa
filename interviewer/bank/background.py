"""The store opened off the caller's thread: an app must draw its first page without waiting for Chroma.

Until the store is ready (or if it cannot be opened) `search` raises, and the grader, which treats grounding as
optional, grades without related material. The error is kept, so every search reports why, and nothing retries.
"""

from __future__ import annotations

from concurrent.futures import Executor

from interviewer.settings import Settings


class BackgroundStore:
    def __init__(self, settings: Settings, executor: Executor, *, ingest: bool) -> None:
        """`ingest`: fill an empty store from the bank (first start); otherwise an empty store is an error."""
        self.settings = settings
        self.store, self.error = None, None
        self.opening = executor.submit(self._open, ingest)

    def _open(self, ingest: bool) -> None:
        from interviewer.bank.store import Store, ensure_ingested

        try:
            store = Store(self.settings)
            if store.count() == 0:
                if not ingest:
                    raise RuntimeError("the store is empty (run `interviewer ingest`)")
                ensure_ingested(store)
            self.store = store
        except Exception as e:  # grounding is optional: remembered, reported by search
            self.error = f"{type(e).__name__}: {e}"

    def search(self, *args, **kwargs):
        if self.store is None:
            raise RuntimeError(self.error or "the question store is still being built")
        return self.store.search(*args, **kwargs)

    def anchor_vectors(self, text_ids: list[str]):
        """The stored anchors' vectors once the store is open; none before (the grade embeds them itself)."""
        if self.store is None:
            return {}
        return self.store.anchor_vectors(text_ids)
