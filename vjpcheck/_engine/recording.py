"""Where verdicts go besides the caller: listeners (the pytest plugin, while a test runs)
hear of every verdict the public entry points return or raise.

``check_vjp``/``assert_vjp`` announce their verdict, ``verify`` its summary (and the minimal
failing verdict); the internal pipeline does not, so one call is heard once. Without a
listener this costs nothing.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Callable, Iterator

#: callback(kind, obj): "check" with a Verdict, "verify" with a Summary, "verify-failure"
#: with the VJPMismatch (``.summary``: what ran before it; ``.verdict``: the minimal case)
Listener = Callable[[str, Any], None]
_listeners: list[Listener] = []
_silenced = 0


@contextlib.contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Hear every announcement made inside the ``with`` block."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """No announcements inside the block (for callers that record their verdicts themselves)."""
    global _silenced
    _silenced += 1
    try:
        yield
    finally:
        _silenced -= 1


def announce(kind: str, obj: Any) -> None:
    if _silenced or not _listeners:
        return
    for listener in list(_listeners):
        try:
            listener(kind, obj)
        except Exception as exc:  # a listener must never change the caller's result
            warnings.warn(f"vjpcheck: a verdict listener failed ({type(exc).__name__}: {exc}); the verdict was not recorded", RuntimeWarning, stacklevel=3)
