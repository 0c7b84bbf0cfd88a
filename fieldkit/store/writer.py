"""The one thread that owns the database connection (DESIGN decision 5).

The TUI, the CLI and the sync server hand it functions of the connection and wait for, or await,
the result; SQLite sees one writer and the event loop never runs a query. The pattern is
Datasette's write thread.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from concurrent.futures import Future
from typing import Any, Callable, TypeVar

T = TypeVar("T")
Job = Callable[[Any], T]


class Writer:
    def __init__(self, connect: Callable[[], Any], name: str = "fieldkit-writer") -> None:
        self._jobs: queue.SimpleQueue[tuple[Job | None, Future]] = queue.SimpleQueue()
        opened: Future = Future()
        self._thread = threading.Thread(target=self._run, args=(connect, opened), name=name, daemon=True)
        self._thread.start()
        opened.result()  # re-raises a failed open (wrong key) in the caller

    def _run(self, connect: Callable[[], Any], opened: Future) -> None:
        try:
            conn = connect()
        except BaseException as exc:
            opened.set_exception(exc)
            return
        opened.set_result(None)
        try:
            while True:
                job, future = self._jobs.get()
                if job is None:
                    future.set_result(None)
                    return
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    future.set_result(job(conn))
                except BaseException as exc:
                    future.set_exception(exc)
        finally:
            conn.close()

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def submit(self, job: Job[T]) -> "Future[T]":
        if not self._thread.is_alive():
            raise RuntimeError("the database is closed")
        future: Future = Future()
        self._jobs.put((job, future))
        return future

    def call(self, job: Job[T]) -> T:
        if threading.current_thread() is self._thread:
            raise RuntimeError("Writer.call() from the writer thread would deadlock; pass the connection on")
        return self.submit(job).result()

    async def run(self, job: Job[T]) -> T:
        return await asyncio.wrap_future(self.submit(job))

    def close(self) -> None:
        if self._thread.is_alive():
            self.submit(None).result()  # type: ignore[arg-type]
            self._thread.join()
