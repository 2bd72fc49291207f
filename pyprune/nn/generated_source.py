"""torch.fx keeps the Python source it generates for every module it compiles (in linecache and
its loader's cache, for tracebacks), and torch.export compiles many: a service converting models
again and again would keep every one's source. ``released_with_result`` ties the sources
generated while building a result to that result's lifetime."""

from __future__ import annotations

import linecache
import weakref
from collections.abc import Callable
from typing import TypeVar

from torch.fx.graph_module import _loader

__all__ = ["released_with_result"]

T = TypeVar("T")


def released_with_result(build: Callable[[], T]) -> T:
    """build(); the fx source generated meanwhile is forgotten when its result is collected (at
    once if build raises)."""
    first = _loader.next_id
    try:
        result = build()
    except BaseException:
        _forget(_keys_since(_loader.eval_cache, first, _loader.next_id))
        raise
    weakref.finalize(result, _forget, _keys_since(_loader.eval_cache, first, _loader.next_id))
    return result


def _forget(keys: list[str]) -> None:
    for key in keys:
        _loader.eval_cache.pop(key, None)
        linecache.cache.pop(key, None)


def _keys_since(cache: dict[str, str], first: int, end: int) -> list[str]:
    """The keys numbered first..end-1 ('<eval_with_key>.N...'), the newest at the end of the
    cache: those generated since `first`, whatever other modules were released meanwhile."""
    keys = []
    for key in reversed(cache):
        number = key.removeprefix("<eval_with_key>.").split(" ", 1)[0]
        if not number.isdigit() or not first <= int(number) < end:
            break
        keys.append(key)
    return keys
