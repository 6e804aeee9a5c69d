"""Progress of long steps: the core reports it, whoever listens shows it (a terminal's bars).

    report("simulate beam 14", done=10, total=30)

Silent unless a listener is installed with :func:`listening`; the core never draws anything.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)
Listener = Callable[[str, float, float], None]
_listeners: list[Listener] = []
_lock = threading.Lock()


def report(step: str, done: float, total: float) -> None:
    """``done`` of ``total`` units of ``step`` are finished (no-op without listeners)."""
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(step, done, total)
        except Exception:  # a display must never break the work
            logger.debug("progress listener failed", exc_info=True)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Send :func:`report` calls to ``listener`` inside the block."""
    with _lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(listener)
