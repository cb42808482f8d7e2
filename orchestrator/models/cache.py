"""Record/replay of model calls in one SQLite file, keyed by a hash of the request.

The key is a SHA-256 of the normalised request: model name, messages and sampling
parameters, as canonical JSON. A request made several times in a run (sampling at a
temperature) is stored once per occurrence: the n-th time a process makes a request, it
gets the n-th recorded response (the last one when it asks more often than recorded).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from clade.orchestrator.models.errors import ReplayMiss
from clade.orchestrator.models.spec import CacheMode

_SAMPLING_KEYS = ("temperature", "top_p", "max_tokens", "stop", "seed")


def request_hash(
    model: str, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]
) -> str:
    """Stable hash of a request; parameters other than sampling ones are left out."""
    sampling = {k: params[k] for k in _SAMPLING_KEYS if params.get(k) is not None}
    if isinstance(sampling.get("temperature"), int):
        sampling["temperature"] = float(sampling["temperature"])
    body = {"model": model, "messages": [dict(m) for m in messages], "params": sampling}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class ResponseCache:
    """Stored responses (OpenAI-shaped dicts) by request hash; thread-safe."""

    def __init__(self, path: Path | str, mode: CacheMode) -> None:
        self.path = Path(path)
        self.mode = mode
        self._lock = threading.Lock()
        self._seen: Counter[str] = Counter()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        with self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS responses (hash TEXT, seq INTEGER, model TEXT,"
                " request TEXT, response TEXT, PRIMARY KEY (hash, seq))"
            )

    def next_seq(self, key: str) -> int:
        """Occurrence number of ``key`` in this process (0 the first time)."""
        with self._lock:
            seq = self._seen[key]
            self._seen[key] += 1
            return seq

    def lookup(self, key: str, seq: int, model: str) -> dict[str, Any]:
        """The response recorded for the ``seq``-th occurrence (or the last one); ReplayMiss if none."""
        with self._lock:
            row = self._db.execute(
                "SELECT response FROM responses WHERE hash = ? AND seq <= ? ORDER BY seq DESC LIMIT 1",
                (key, seq),
            ).fetchone()
        if row is None:
            raise ReplayMiss(key, model)
        response: dict[str, Any] = json.loads(row[0])
        return response

    def store(
        self,
        key: str,
        seq: int,
        model: str,
        request: Mapping[str, Any],
        response: Mapping[str, Any],
    ) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?)",
                (
                    key,
                    seq,
                    model,
                    json.dumps(request, default=str),
                    json.dumps(response, default=str),
                ),
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
