"""Dynamic batching: concurrent requests wait briefly in one bounded queue and are merged into
one model call, so the model runs on many texts at once instead of one request at a time.

A batch is cut when the waiting requests of one kind (embeddings or fill-mask) reach the token
budget, or when the oldest of them has waited `max_wait` seconds. While the model computes a
batch (in a worker thread, so the event loop keeps accepting requests), new requests collect in
the queue and form the next batch. When `max_queue` requests are already waiting, `submit`
raises `QueueFull` at once (the app answers 503), so a burst can neither grow memory without
bound nor make every client wait for minutes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class QueueFull(Exception):
    """The queue holds `max_queue` requests; the caller should retry later."""


@dataclass
class Job:
    """One request's work: its texts as token id lists, plus what its kind needs."""

    kind: str  # "embed" or "fill_mask"
    token_lists: list[list[int]]
    extra: Any = None  # fill-mask: the masked positions of each text
    future: asyncio.Future | None = None
    enqueued: float = field(default_factory=time.monotonic)

    @property
    def tokens(self) -> int:
        """Tokens of all its texts."""
        return sum(len(ids) for ids in self.token_lists)


# run(kind, jobs) → one result per job, computed in one model call over all their texts
RunBatch = Callable[[str, list[Job]], list[Any]]


class Batcher:
    """Merges concurrent jobs into batches and runs them one at a time in a worker thread."""

    def __init__(self, run: RunBatch, max_batch_tokens: int, max_wait_s: float, max_queue: int,
                 on_batch: Callable[[str, list[Job]], None] | None = None):
        self.run = run
        self.max_batch_tokens = max_batch_tokens
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self.on_batch = on_batch
        self.pending: deque[Job] = deque()
        self._arrived: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        # One compute thread: model calls share the cores, running two at once only slows both.
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="rexbert-model")

    def start(self) -> None:
        """Start the worker on the running event loop (done by the first `submit` if needed)."""
        if self._task is None or self._task.done():
            self._arrived = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._work())

    async def stop(self) -> None:
        """Stop the worker; waiting jobs fail with CancelledError."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for job in self.pending:
            if job.future is not None and not job.future.done():
                job.future.cancel()
        self.pending.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, job: Job) -> Any:
        """Queue `job` and wait for its result; `QueueFull` when `max_queue` jobs are waiting."""
        self.start()
        if len(self.pending) >= self.max_queue:
            raise QueueFull(f"{len(self.pending)} requests are waiting")
        job.future = asyncio.get_running_loop().create_future()
        self.pending.append(job)
        self._arrived.set()
        return await job.future

    def _queued_tokens(self, kind: str) -> int:
        return sum(job.tokens for job in self.pending if job.kind == kind)

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self.pending:
                self._arrived.clear()
                await self._arrived.wait()
                continue
            kind = self.pending[0].kind
            deadline = self.pending[0].enqueued + self.max_wait_s
            while self._queued_tokens(kind) < self.max_batch_tokens and time.monotonic() < deadline:
                self._arrived.clear()
                try:
                    await asyncio.wait_for(self._arrived.wait(), timeout=max(0.0, deadline - time.monotonic()))
                except TimeoutError:
                    break
            batch = self._take(kind)
            if self.on_batch is not None:
                self.on_batch(kind, batch)
            try:
                results = await loop.run_in_executor(self._executor, self.run, kind, batch)
            except Exception as err:  # a failed batch fails its requests, never the worker
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(err)
                continue
            for job, result in zip(batch, results, strict=True):
                if not job.future.done():  # the client may have gone away
                    job.future.set_result(result)

    def _take(self, kind: str) -> list[Job]:
        """Oldest-first jobs of `kind` up to the token budget (the first one always)."""
        batch: list[Job] = []
        used = 0
        for job in list(self.pending):
            if job.kind != kind:
                continue
            if batch and used + job.tokens > self.max_batch_tokens:
                break
            batch.append(job)
            used += job.tokens
        for job in batch:
            self.pending.remove(job)
        return batch
