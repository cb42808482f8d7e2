"""Plain data across the process boundary between a solution and its checker.

Values cross as JSON with tags for what JSON lacks (tuples, sets, dicts with any keys,
bytes, non-finite floats, complex numbers). :func:`decode` builds *exact* builtins only, so
whatever the solution returns, the checker compares an ``int`` with an ``int``: an object
whose ``__eq__``, ``__bool__`` or ``__repr__`` lies cannot cross. :func:`encode` runs on
both sides; on the solution's side anything that is not plain data becomes a handle
(``{"$handle": n}``), which the checker can only call or ask for attributes.

The wire: the solution answers with one JSON line per request (:func:`dumps`, parsed by the
checker with :func:`loads`, the only parser that ever reads the solution's bytes); the
checker's requests go the other way as length-prefixed ``marshal`` frames (:func:`send`,
:func:`receive`), so the solution's process starts without importing ``json`` and ``re``:
a new solution process per grade costs little more than Python's own start-up.

Standard library only (and only built-in modules at import): this module's source also runs
inside the grading sandbox.
"""

from __future__ import annotations

import binascii
import marshal
import math
from _json import encode_basestring_ascii

if __package__:  # type names only; the sandbox programs never import typing
    from collections.abc import Callable
    from typing import IO, Any

#: Nesting allowed in one value, and the bytes of one encoded message.
MAX_DEPTH = 64
MAX_MESSAGE_BYTES = 4 << 20


class NotPlain(ValueError):
    """A value (or a message) that is not plain data within the limits."""


def encode(value: Any, handle: Callable[[Any], int] | None = None, depth: int = 0) -> Any:
    """``value`` as JSON-able data. Exact builtin types only (``type(x) is int``, not
    ``isinstance``): a subclass is not plain. Other objects become ``{"$handle": handle(x)}``
    when ``handle`` is given, else raise :class:`NotPlain`."""
    if depth > MAX_DEPTH:
        raise NotPlain(f"nested deeper than {MAX_DEPTH}")
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return {"$int": str(value)} if abs(value) >= 1 << 53 else value
    if kind is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if kind is list:
        return [encode(item, handle, depth + 1) for item in value]
    if kind is tuple:
        return {"$tuple": [encode(item, handle, depth + 1) for item in value]}
    if kind is dict:
        return {
            "$dict": [
                [encode(k, handle, depth + 1), encode(v, handle, depth + 1)]
                for k, v in value.items()
            ]
        }
    if kind is set or kind is frozenset:
        tag = "$set" if kind is set else "$frozenset"
        return {tag: [encode(item, handle, depth + 1) for item in value]}
    if kind is bytes:
        return {"$bytes": binascii.b2a_base64(value, newline=False).decode()}
    if kind is complex:
        return {"$complex": [encode(value.real), encode(value.imag)]}
    if handle is None:
        raise NotPlain(f"a {kind.__name__} is not plain data")
    return {"$handle": handle(value)}


_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def decode(data: Any, handle: Callable[[int], Any] | None = None, depth: int = 0) -> Any:
    """The exact builtins that ``data`` (parsed JSON) stands for; ``handle(n)`` makes the
    object a ``{"$handle": n}`` stands for (without ``handle`` a handle is an error)."""
    if depth > MAX_DEPTH:
        raise NotPlain(f"nested deeper than {MAX_DEPTH}")
    kind = type(data)
    if data is None or kind is bool or kind is str or kind is float:
        return data
    if kind is int:
        return int(data)
    if kind is list:
        return [decode(item, handle, depth + 1) for item in data]
    if kind is not dict or len(data) != 1:
        raise NotPlain("not an encoded value")
    ((tag, body),) = data.items()
    if tag == "$int" and type(body) is str:
        try:
            return int(body)
        except ValueError:
            raise NotPlain("an integer too long to read") from None
    if tag == "$float" and body in _FLOATS:
        return _FLOATS[body]
    if tag == "$bytes" and type(body) is str:
        try:
            return binascii.a2b_base64(body, strict_mode=True)
        except (binascii.Error, ValueError):
            raise NotPlain("bad bytes") from None
    if tag == "$handle" and type(body) is int and handle is not None:
        return handle(body)
    if type(body) is not list:
        raise NotPlain(f"bad body for {tag}")
    items = [decode(item, handle, depth + 1) for item in body]
    try:
        if tag == "$tuple":
            return tuple(items)
        if tag == "$set":
            return set(items)
        if tag == "$frozenset":
            return frozenset(items)
        if tag == "$dict" and all(type(pair) is list and len(pair) == 2 for pair in items):
            return {k: v for k, v in items}
    except TypeError:  # an unhashable key or member
        raise NotPlain(f"unhashable item in {tag}") from None
    if tag == "$complex" and len(items) == 2 and all(type(x) in (int, float) for x in items):
        return complex(items[0], items[1])
    raise NotPlain(f"unknown tag {tag}")


# -- the solution's answers: JSON lines ----------------------------------------------------
def _json(value: Any, out: list[str]) -> None:
    kind = type(value)
    if value is None:
        out.append("null")
    elif kind is bool:
        out.append("true" if value else "false")
    elif kind is int:
        out.append(str(value))
    elif kind is float:
        if not math.isfinite(value):
            raise NotPlain("a non-finite float outside a tag")
        out.append(repr(value))
    elif kind is str:
        out.append(encode_basestring_ascii(value))
    elif kind is list:
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _json(item, out)
        out.append("]")
    elif kind is dict:
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if type(key) is not str:
                raise NotPlain("a message key that is not a string")
            out.append("," if index else "")
            out.append(encode_basestring_ascii(key) + ":")
            _json(item, out)
        out.append("}")
    else:
        raise NotPlain(f"a {kind.__name__} in a message")


def dumps(message: Any) -> bytes:
    """One message as a line of JSON (strings escaped to ASCII, so no raw newline)."""
    out: list[str] = []
    try:
        _json(message, out)
    except (RecursionError, ValueError) as exc:
        raise NotPlain(f"cannot write the message: {type(exc).__name__}") from None
    line = "".join(out).encode() + b"\n"
    if len(line) > MAX_MESSAGE_BYTES:
        raise NotPlain(f"message of {len(line)} bytes is over {MAX_MESSAGE_BYTES}")
    return line


def loads(line: bytes) -> Any:
    """Parse one answer line; anything malformed, too large or too deep is NotPlain."""
    import json

    if len(line) > MAX_MESSAGE_BYTES:
        raise NotPlain(f"message of {len(line)} bytes is over {MAX_MESSAGE_BYTES}")
    try:
        return json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise NotPlain(f"malformed message: {type(exc).__name__}") from None


# -- the checker's requests: marshal frames ----------------------------------------------------
def send(stream: IO[bytes], message: Any) -> None:
    """Write one request (plain data only) as a length-prefixed marshal frame."""
    data = marshal.dumps(message)
    stream.write(len(data).to_bytes(4, "big") + data)
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    """Read one request; None at the end of the stream."""
    head = stream.read(4)
    if len(head) < 4:
        return None
    size = int.from_bytes(head, "big")
    data = stream.read(size)
    if len(data) < size:
        return None
    return marshal.loads(data)
