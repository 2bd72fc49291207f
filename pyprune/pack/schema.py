"""Small validators of parsed JSON, composed into a file's grammar (grammar.py).

A validator is called as `v(value, path, ctx)`: it returns the value (checked) or raises
PackError naming the JSON path of the first thing that is not in the grammar, e.g.
`tensor '3.weight'.values.symbols: must be an integer in [0, 9007199254740992], got -1`.
`ctx` carries what a check needs from outside the value (the file's streams) and collects
what the value refers to. Nothing here knows the format: adding a section to a file is adding
an entry to its grammar.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

__all__ = [
    "Bool", "Check", "Const", "Context", "Enum", "Float", "Int", "List", "Map", "Nullable", "OutOfRange", "PackError", "Record",
    "Section", "Str", "Tagged", "Tuple", "Validator", "fail", "loads",
]


class PackError(ValueError):
    """A packed file that is not valid: truncated, corrupt, of another format or version,
    or inconsistent with itself or with the model it is loaded into."""


Validator = Callable[[Any, str, "Context"], Any]


class Context:
    """What validators may consult (`streams`: name -> stream description, `data_bytes`:
    the size of the data they lie in) and record (`used`: streams referred to)."""

    def __init__(self, streams: dict[str, Any] | None = None, data_bytes: int = 0) -> None:
        self.streams = streams or {}
        self.data_bytes = data_bytes
        self.used: dict[str, str] = {}  # stream -> path of the field that refers to it
        self.keys: list[str] = []       # Map keys on the way to the current value


def fail(path: str, message: str) -> None:
    raise PackError(f"{path}: {message}")


def _show(value: Any) -> str:
    """A short rendering of a hostile value for a message."""
    return json.dumps(value)[:60] if isinstance(value, (dict, list, str)) else repr(value)[:60]


def key_path(path: str, key: str) -> str:
    return f"{path}.{key}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else f"{path}[{json.dumps(key)}]"


class Int:
    """An integer (not a bool, not a float) in [lo, hi]."""

    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi

    def __call__(self, value: Any, path: str, ctx: Context) -> int:
        if type(value) is not int or not self.lo <= value <= self.hi:
            fail(path, f"must be an integer in [{self.lo}, {self.hi}], got {_show(value)}")
        return value


class Float:
    """A finite JSON number (an integer is a number too) in [lo, hi]."""

    def __init__(self, lo: float = -math.inf, hi: float = math.inf) -> None:
        self.lo, self.hi = lo, hi

    def __call__(self, value: Any, path: str, ctx: Context) -> float:
        if type(value) not in (int, float) or not math.isfinite(value) or not self.lo <= value <= self.hi:
            fail(path, f"must be a finite number in [{self.lo}, {self.hi}], got {_show(value)}")
        return float(value)


class Bool:
    def __call__(self, value: Any, path: str, ctx: Context) -> bool:
        if type(value) is not bool:
            fail(path, f"must be true or false, got {_show(value)}")
        return value


# Control characters would reach terminals through names that inspect prints.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class Str:
    """A string of at most max_len characters, without control characters or lone
    surrogates; matching `pattern` if given."""

    def __init__(self, max_len: int = 1024, pattern: str | None = None, min_len: int = 0) -> None:
        self.min_len, self.max_len = min_len, max_len
        self.pattern = re.compile(pattern) if pattern else None

    def __call__(self, value: Any, path: str, ctx: Context) -> str:
        if type(value) is not str:
            fail(path, f"must be a string, got {_show(value)}")
        if not self.min_len <= len(value) <= self.max_len:
            fail(path, f"must be a string of {self.min_len} to {self.max_len} characters, got {len(value)}")
        if _CONTROL.search(value) or any("\ud800" <= c <= "\udfff" for c in value):
            fail(path, f"holds control characters or lone surrogates: {_show(value)}")
        if self.pattern and not self.pattern.fullmatch(value):
            fail(path, f"must match {self.pattern.pattern}, got {_show(value)}")
        return value


class Const:
    def __init__(self, value: Any, what: str = "") -> None:
        self.value, self.what = value, what

    def __call__(self, value: Any, path: str, ctx: Context) -> Any:
        if type(value) is not type(self.value) or value != self.value:
            fail(path, f"{self.what}must be {_show(self.value)}, got {_show(value)}")
        return value


class Enum:
    def __init__(self, *values: str) -> None:
        self.values = values

    def __call__(self, value: Any, path: str, ctx: Context) -> Any:
        if type(value) is not str or value not in self.values:
            fail(path, f"must be one of {', '.join(self.values)}; got {_show(value)}")
        return value


class Nullable:
    def __init__(self, inner: Validator) -> None:
        self.inner = inner

    def __call__(self, value: Any, path: str, ctx: Context) -> Any:
        return None if value is None else self.inner(value, path, ctx)


class List:
    """A list of min_len to max_len items, each valid for `item`."""

    def __init__(self, item: Validator, min_len: int = 0, max_len: int = 1 << 20) -> None:
        self.item, self.min_len, self.max_len = item, min_len, max_len

    def __call__(self, value: Any, path: str, ctx: Context) -> list:
        if type(value) is not list:
            fail(path, f"must be a list, got {_show(value)}")
        if not self.min_len <= len(value) <= self.max_len:
            fail(path, f"must have {self.min_len} to {self.max_len} items, got {len(value)}")
        return [self.item(v, f"{path}[{i}]", ctx) for i, v in enumerate(value)]


class Tuple:
    """A list of exactly len(items) values, the i-th valid for items[i]."""

    def __init__(self, *items: Validator) -> None:
        self.items = items

    def __call__(self, value: Any, path: str, ctx: Context) -> list:
        if type(value) is not list or len(value) != len(self.items):
            fail(path, f"must be a list of {len(self.items)} items, got {_show(value)}")
        return [item(v, f"{path}[{i}]", ctx) for i, (item, v) in enumerate(zip(self.items, value))]


class Record:
    """An object with exactly the `required` keys and any of the `optional` ones."""

    def __init__(self, required: dict[str, Validator], optional: dict[str, Validator] | None = None) -> None:
        self.required, self.optional = required, optional or {}

    def extend(self, required: dict[str, Validator] | None = None, optional: dict[str, Validator] | None = None) -> Record:
        """This record with more keys (a later version of a section)."""
        return Record({**self.required, **(required or {})}, {**self.optional, **(optional or {})})

    def __call__(self, value: Any, path: str, ctx: Context) -> dict:
        if type(value) is not dict:
            fail(path, f"must be an object, got {_show(value)}")
        for key in value:
            if key not in self.required and key not in self.optional:
                fail(key_path(path, key), "is not a field of this object")
        for key in self.required:
            if key not in value:
                fail(path, f"missing field {key!r}")
        fields = {**self.required, **self.optional}
        return {key: fields[key](v, key_path(path, key), ctx) for key, v in value.items()}


class Map:
    """An object from keys valid for `key` to values valid for `value` (at most max_len of
    them), besides the `fixed` keys, required, each with its own grammar. With a `label`,
    an entry's path is `label 'key'` (e.g. tensor 'conv.weight') rather than path["key"]."""

    def __init__(self, key: Validator, value: Validator, max_len: int = 1 << 20,
                 fixed: dict[str, Validator] | None = None, label: str = "") -> None:
        self.key, self.value, self.max_len, self.fixed, self.label = key, value, max_len, fixed or {}, label

    def __call__(self, value: Any, path: str, ctx: Context) -> dict:
        if type(value) is not dict:
            fail(path, f"must be an object, got {_show(value)}")
        if len(value) > self.max_len + len(self.fixed):
            fail(path, f"must have at most {self.max_len} entries, got {len(value)}")
        for key in self.fixed:
            if key not in value:
                fail(path, f"missing field {key!r}")
        out = {}
        for k, v in value.items():
            if k in self.fixed:
                out[k] = self.fixed[k](v, key_path(path, k), ctx)
                continue
            self.key(k, f"{path} key {_show(k)}", ctx)
            ctx.keys.append(k)
            try:
                out[k] = self.value(v, f"{self.label} {k!r}" if self.label else key_path(path, k), ctx)
            finally:
                ctx.keys.pop()
        return out


class Tagged:
    """An object whose `tag` field picks its grammar among `variants`."""

    def __init__(self, tag: str, variants: dict[str, Validator], what: str) -> None:
        self.tag, self.variants, self.what = tag, variants, what

    def __call__(self, value: Any, path: str, ctx: Context) -> dict:
        if type(value) is not dict:
            fail(path, f"must be an object, got {_show(value)}")
        tag = value.get(self.tag)
        if type(tag) is not str or tag not in self.variants:
            fail(key_path(path, self.tag), f"unknown {self.what} {_show(tag)} (known: {', '.join(self.variants)})")
        return self.variants[tag](value, path, ctx)


class Check:
    """`inner`, then `rule(value, ctx)`: a message (the value is refused) or None."""

    def __init__(self, inner: Validator, rule: Callable[[Any, Context], str | None]) -> None:
        self.inner, self.rule = inner, rule

    def __call__(self, value: Any, path: str, ctx: Context) -> Any:
        value = self.inner(value, path, ctx)
        message = self.rule(value, ctx)
        if message:
            fail(path, message)
        return value


class Section:
    """`inner`, its errors prefixed with what the section is ("channel plan: ...")."""

    def __init__(self, label: str, inner: Validator) -> None:
        self.label, self.inner = label, inner

    def __call__(self, value: Any, path: str, ctx: Context) -> Any:
        try:
            return self.inner(value, path, ctx)
        except PackError as e:
            raise PackError(f"{self.label}: {e}") from None


# ---- strict JSON ----------------------------------------------------------------------------------

MAX_JSON_DEPTH = 32
_MAX_INT_DIGITS = 20  # int64 and uint64 fit; Python's own limit (4300 digits) raises ValueError


def _depth(text: str) -> int:
    """How deep arrays and objects nest in `text`, brackets inside strings not counted. Linear
    time and little memory whatever the text: escaped backslashes and quotes go first (so every
    quote left opens or closes a string), then brackets are summed outside strings."""
    import numpy as np

    raw = text.encode("utf-8", "surrogatepass").replace(b"\\\\", b"").replace(b'\\"', b"")
    b = np.frombuffer(raw, np.uint8)
    # np.equal rather than ==: the fuzzer's tracing of comparisons would keep every big array.
    inside = np.cumsum(np.equal(b, ord('"')), dtype=np.uint8) & 1  # parity survives the uint8 wrap-around
    opens, closes = np.equal(b, ord("[")) | np.equal(b, ord("{")), np.equal(b, ord("]")) | np.equal(b, ord("}"))
    step = opens.view(np.int8) - closes.view(np.int8)
    step[inside.view(bool)] = 0
    deepest = depth = 0
    for start in range(0, step.size, 1 << 20):
        running = np.cumsum(step[start : start + (1 << 20)], dtype=np.int32) + depth
        deepest, depth = max(deepest, int(running.max())), int(running[-1])
    return deepest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        duplicate = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise PackError(f"duplicate key {_show(duplicate)}")
    return out


class OutOfRange:
    """A JSON number no validator accepts (too many digits for an integer, beyond a double),
    kept as its text so that the grammar names the field that holds it."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"{self.text[:12]}... ({len(self.text)} characters)" if len(self.text) > 15 else self.text


def _int(text: str) -> int | OutOfRange:
    return OutOfRange(text) if len(text.lstrip("-")) > _MAX_INT_DIGITS else int(text)


def _float(text: str) -> float | OutOfRange:
    value = float(text)
    return value if math.isfinite(value) else OutOfRange(text)


def _constant(text: str) -> None:
    raise PackError(f"{text} is not JSON")


def loads(text: str, what: str) -> Any:
    """`text` parsed as strict JSON: no duplicate keys, no NaN or Infinity, nesting at most
    MAX_JSON_DEPTH deep (PackError naming `what` otherwise); integers of more than 20 digits
    and numbers beyond a double become OutOfRange, which no validator accepts."""
    depth = _depth(text)
    if depth > MAX_JSON_DEPTH:
        raise PackError(f"{what}: JSON nested {depth} deep, more than the {MAX_JSON_DEPTH} allowed")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_int=_int, parse_float=_float,
                          parse_constant=_constant)
    except PackError as e:
        raise PackError(f"{what}: {e}") from None
    except (json.JSONDecodeError, RecursionError, ValueError) as e:
        raise PackError(f"{what} is not JSON ({e})") from None
