"""Threads that own database connections: one writer, a few readers (DESIGN decision 5).

SQLite takes one writer at a time and, in WAL mode, any number of readers beside it that never
wait for the writer. So the store keeps one connection on a writer thread, which alone writes, and
a few read-only connections on reader threads that share one queue of reads. Callers hand a
thread a function of its connection and wait for the result, or await it from the event loop:
cancelling the awaiting task cancels the job if it has not started. The pattern is Datasette's
(`database.py`: a write thread and a read pool).
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
Job = Callable[[Any], T]
_STOP = object()


# The interpreter lets a thread hold its lock this long before one that waits may take it. Each
# query a reader runs gives the lock up and must win it back; beside a sync folding on the writer
# (pure Python, never waiting), every win costs up to this interval, so a search of a few dozen
# statements waited ten times longer at Python's default of 5 ms (bench/concurrency.py).
QUICK_SWITCH_SECONDS = 0.0005


def favour_quick_reads() -> None:
    """For a process where someone waits on reads while writes fold (the clinic screen): hand the
    interpreter's lock over sooner, at some cost to the fold's throughput."""
    sys.setswitchinterval(QUICK_SWITCH_SECONDS)


class ConnectionThreads:
    """`count` threads, each owning one connection made by `connect`, draining one queue of jobs.

    `idle(conn)` runs on a thread that has waited `idle_every` seconds without a job (the writer
    looks there for other processes' commits)."""

    def __init__(self, connect: Callable[[], Any], *, name: str, count: int = 1,
                 idle: Callable[[Any], None] | None = None, idle_every: float = 0.5) -> None:
        self._jobs: queue.SimpleQueue[tuple[Any, Future]] = queue.SimpleQueue()
        self._idle, self._idle_every = idle, idle_every
        self._threads = []
        for number in range(count):
            opened: Future = Future()
            thread = threading.Thread(target=self._run, args=(connect, opened), daemon=True,
                                      name=name if count == 1 else f"{name}-{number + 1}")
            thread.start()
            self._threads.append(thread)
            try:
                opened.result()  # a failed open (wrong key) raises in the caller
            except BaseException:
                self.close()
                raise

    def _run(self, connect: Callable[[], Any], opened: Future) -> None:
        try:
            conn = connect()
        except BaseException as exc:  # noqa: BLE001 - handed whole to the caller, who re-raises it
            opened.set_exception(exc)
            return
        opened.set_result(None)
        try:
            while True:
                try:
                    job, future = self._jobs.get(timeout=self._idle_every if self._idle else None)
                except queue.Empty:
                    self._idle(conn)  # type: ignore[misc]
                    continue
                if job is _STOP:
                    future.set_result(None)
                    return
                if not future.set_running_or_notify_cancel():
                    continue  # its caller stopped waiting before it started
                try:
                    future.set_result(job(conn))
                except BaseException as exc:  # noqa: BLE001 - handed whole to the caller, who re-raises it
                    future.set_exception(exc)
        finally:
            conn.close()

    def owns_current_thread(self) -> bool:
        return threading.current_thread() in self._threads

    def submit(self, job: Job[T]) -> Future[T]:
        if not any(thread.is_alive() for thread in self._threads):
            raise RuntimeError("the database is closed")
        future: Future = Future()
        self._jobs.put((job, future))
        return future

    def call(self, job: Job[T]) -> T:
        """Wait for `job`: never from a thread running an event loop, which would freeze (the
        clinic screen's tests forbid it; a frozen screen is still better than a crashed one)."""
        if self.owns_current_thread():
            raise RuntimeError("a database job waiting for its own thread would deadlock; pass the connection on")
        return self.submit(job).result()

    async def run(self, job: Job[T]) -> T:
        import asyncio  # here: a command that never runs a loop need not load it (60 ms)

        # wrap_future cancels the job's future when the awaiting task is cancelled.
        return await asyncio.wrap_future(self.submit(job))

    def close(self) -> None:
        alive = [thread for thread in self._threads if thread.is_alive()]
        stops: list[Future] = [self.submit(_STOP) for _ in alive]  # type: ignore[arg-type]
        for stop in stops:
            stop.result()
        for thread in alive:
            thread.join()
