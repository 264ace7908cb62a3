"""Time limits: a hung forward or backward becomes a ``timeout`` finding in bounded time.

A limit is enforced with ``SIGALRM`` (an interval timer) in the main thread, as
pytest-timeout's *signal* method does: the handler raises :class:`CheckTimeout`, a
``BaseException``, so that no ``except Exception`` in the user's code (or in an oracle)
swallows it, and the check becomes an ``error`` verdict with a ``timeout`` finding naming
the phase it was in. An outer timer (pytest-timeout's) keeps running: a shorter one
already set is left alone. Limits cannot interrupt a call stuck inside native code until
it returns to Python, nor run outside the main thread or on Windows (no ``SIGALRM``); there,
pytest-timeout's *thread* method under pytest-xdist is the backstop (the lost worker is
recorded as *crashed*).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from typing import Iterator

#: what the check is doing now, for the timeout's message (set by the pipeline)
phase = {"now": "setting up the case"}
_session_default: list[float | None] = [None]


class CheckTimeout(BaseException):
    """The time limit of one check ran out (a ``BaseException``: user code cannot catch it)."""

    def __init__(self, seconds: float, where: str):
        super().__init__(f"the check did not finish within {seconds:g} s (it was {where})")
        self.seconds, self.where = seconds, where


def set_phase(text: str) -> None:
    phase["now"] = text


@contextlib.contextmanager
def session_default(seconds: float | None) -> Iterator[None]:
    """``seconds`` is the limit of every check inside the block that sets none (the plugin)."""
    _session_default.append(seconds)
    try:
        yield
    finally:
        _session_default.pop()


def effective(seconds: float | None) -> float | None:
    """The check's own limit, else the session's (``None``: no limit)."""
    return seconds if seconds is not None else _session_default[-1]


def enforceable() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`CheckTimeout` in the block after ``seconds`` (no-op without a limit or
    where it cannot be enforced)."""
    if not seconds or not enforceable():
        yield
        return
    outer_delay, outer_interval = signal.getitimer(signal.ITIMER_REAL)
    if 0 < outer_delay <= seconds:  # an outer limit fires first: leave it in charge
        yield
        return
    start = time.monotonic()

    def expire(signum, frame):
        raise CheckTimeout(seconds, phase["now"])

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay > 0:  # re-arm the outer timer with what is left of it
            signal.setitimer(signal.ITIMER_REAL, max(outer_delay - (time.monotonic() - start), 1e-3), outer_interval)
