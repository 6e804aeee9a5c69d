"""The one place background work runs: an asyncio loop in a daemon thread, shared by the workbench.

Panels never block the kernel: they hand coroutines here and update their widgets from the
results through traits only. Periodic jobs (live status, run polling) are keyed, so a panel
replaces or stops its own job without touching the others'.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

logger = logging.getLogger(__name__)
T = TypeVar("T")


class Background:
    """An event loop in a daemon thread, started on first use."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._jobs: dict[str, concurrent.futures.Future] = {}

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                self._loop = asyncio.new_event_loop()
                threading.Thread(
                    target=self._loop.run_forever, name="flint-widgets", daemon=True
                ).start()
            return self._loop

    def submit(self, coro: Awaitable[T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` on the background loop; returns at once."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Await a blocking call run in a worker thread (from a background coroutine)."""
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    def every(self, key: str, seconds: float, tick: Callable[[], Awaitable[Any]]) -> None:
        """Run ``tick()`` every ``seconds`` until :meth:`stop` ``key`` (replaces a job of that key)."""
        self.stop(key)

        async def repeat() -> None:
            while True:
                try:
                    await tick()
                except asyncio.CancelledError:
                    raise
                except Exception:  # the tick shows its own errors; keep polling
                    logger.debug("periodic job %s failed", key, exc_info=True)
                await asyncio.sleep(seconds)

        self._jobs[key] = self.submit(repeat())

    def stop(self, key: str) -> None:
        job = self._jobs.pop(key, None)
        if job is not None:
            job.cancel()

    def running(self, key: str) -> bool:
        job = self._jobs.get(key)
        return job is not None and not job.done()


BACKGROUND = Background()
"""The shared instance every panel uses."""
