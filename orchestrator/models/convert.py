"""Converted copies of GGUF models, so transformers loads them in under a second.

transformers dequantises a GGUF on every load (~24 s for SmolLM2-135M on two cores). The
first load saves the dequantised model and its tokenizer under
``$CLADE_MODEL_CACHE`` (default ``~/.cache/clade/models``) in a folder named by the GGUF's
SHA-256; later loads read that folder. Writes go to a temporary folder renamed into place,
so concurrent processes never see half a copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

_hash_lock = threading.Lock()
_hashes: dict[tuple[str, int, int], str] = {}


def cache_root() -> Path:
    """Where converted models live (env ``CLADE_MODEL_CACHE`` overrides)."""
    env = os.environ.get("CLADE_MODEL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "clade" / "models"


def file_sha256(path: Path) -> str:
    """SHA-256 of ``path``, memoised per (path, size, mtime) in this process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _hash_lock:
        if key in _hashes:
            return _hashes[key]
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    with _hash_lock:
        _hashes[key] = digest.hexdigest()
    return _hashes[key]


def converted_dir(gguf: Path) -> Path:
    """Folder with the transformers copy of ``gguf``, converting it the first time."""
    target = cache_root() / f"{gguf.stem}-{file_sha256(gguf)[:16]}"
    if (target / "config.json").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model: Any = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # save_pretrained refuses a GGUF-loaded model while it still names its quantizer.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        with contextlib.suppress(OSError):  # another process finished first
            tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
