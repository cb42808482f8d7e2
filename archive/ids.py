"""Short, time-ordered, unique ids for runs and candidates.

An id is 16 lowercase Crockford base-32 characters: 10 for the milliseconds since the
epoch, then 6 random ones (30 bits). Ids sort in creation order (strictly, within one
process: a later id in the same millisecond increments the random part), so listings
ordered by id are chronological and a prefix narrows by time.
"""

from __future__ import annotations

import secrets
import threading
import time

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
TIME_CHARS = 10
RANDOM_CHARS = 6
ID_LENGTH = TIME_CHARS + RANDOM_CHARS

_lock = threading.Lock()
_last: list[int] = [0, 0]  # [ms, random] of the previous id, guarded by _lock


def _encode(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 32)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def new_id() -> str:
    """A fresh id, greater than every id this process made before."""
    with _lock:
        ms = time.time_ns() // 1_000_000
        rand = secrets.randbits(5 * RANDOM_CHARS)
        if ms <= _last[0]:
            ms, rand = _last[0], _last[1] + 1
            if rand >= 32**RANDOM_CHARS:
                ms, rand = ms + 1, 0
        _last[0], _last[1] = ms, rand
    return _encode(ms, TIME_CHARS) + _encode(rand, RANDOM_CHARS)


def looks_like_prefix(text: str) -> bool:
    """True when `text` could be the start of an id (a non-empty run of id characters)."""
    return 0 < len(text) <= ID_LENGTH and all(c in ALPHABET for c in text.lower())
