"""Single scans decided together: a group commit for the HTTP API's one-scan requests.

Each device sends one scan at a time and waits for its answer. Decided one by one, 300
scans a second are 300 context reads, 300 INSERTs and 300 WAL flushes, and when a flush
stalls (a busy disk) every scan behind it waits for a pooled connection as well. Here the
scans that arrive while a batch is being decided and committed wait for the next batch:
one context read, one INSERT and one flush for all of them. An idle gate decides a lone
scan at once (a batch of one); a busy one answers each scan within about two commits.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, replace

import asyncpg
import structlog

from cordon_core.unit_of_work import TooMuchContention, run_command
from cordon_gate.domain.answers import ScanResult
from cordon_gate.domain.batch import IncomingScan
from cordon_gate.service.scanning import DECIDE_AGAIN, ScanDesk

log = structlog.get_logger(__name__)


@dataclass
class _Waiting:
    item: IncomingScan
    answer: asyncio.Future[ScanResult]


class ScanBatcher:
    def __init__(self, pool: asyncpg.Pool, desk: ScanDesk, *, max_batch: int = 500) -> None:
        self.pool, self.desk = pool, desk
        self.max_batch = max_batch
        self._waiting: list[_Waiting] = []
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def decide(self, item: IncomingScan) -> ScanResult:
        """Decide and record one scan with whatever others arrive meanwhile."""
        if self._task is None or self._task.done():
            raise RuntimeError("the scan batcher is not running")
        answer: asyncio.Future[ScanResult] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(item, answer))
        self._arrived.set()
        return await answer

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="scan-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for waiting in self._waiting:
            waiting.answer.cancel()
        self._waiting.clear()

    async def _run(self) -> None:
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            while self._waiting:
                batch = self._waiting[: self.max_batch]
                del self._waiting[: self.max_batch]
                await self._decide(batch)

    async def _decide(self, batch: list[_Waiting]) -> None:
        # The same scan sent twice at once is decided once: the second copy waits for the
        # first one's answer and is told it was a duplicate.
        first: dict[tuple[str, str], _Waiting] = {}
        copies: list[tuple[_Waiting, _Waiting]] = []
        for waiting in batch:
            if waiting.answer.done():  # the device gave up waiting
                continue
            key = (waiting.item.scan.checkpoint_id, waiting.item.scan.scan_id)
            if key in first:
                copies.append((waiting, first[key]))
            else:
                first[key] = waiting
        deciding = list(first.values())
        try:
            # A pass used at two gates at once, or a scan another gate process is deciding:
            # the unit of work decides the whole group again, and the second look finds the
            # first one's answer. Outside a transaction: the desk opens one only when it
            # writes more than one statement.
            items = [w.item for w in deciding]
            results = await run_command(
                self.pool,
                lambda conn: self.desk.decide(conn, items, actor="device", rejections="report"),
                conflicts=DECIDE_AGAIN,
                transaction=False,
            )
        except Exception as error:
            if not isinstance(error, TooMuchContention):
                log.exception("scan_batch_failed", scans=len(deciding))
            for waiting in batch:
                if not waiting.answer.done():
                    waiting.answer.set_exception(error)
            return
        by_key: dict[tuple[str, str], ScanResult] = {}
        for waiting, result in zip(deciding, results, strict=True):
            by_key[(result.checkpoint_id, result.scan_id)] = result
            if not waiting.answer.done():
                waiting.answer.set_result(result)
        for copy, original in copies:
            if not copy.answer.done():
                result = by_key[(original.item.scan.checkpoint_id, original.item.scan.scan_id)]
                copy.answer.set_result(
                    result if result.decision == "rejected" else replace(result, duplicate=True)
                )
