"""Checks a GGUF file's header before llama.cpp sees it.

Given a file of another kind, llama.cpp fails with nothing more useful than "check the
input params" (and, verbose, pages of log); this check names the file and the problem.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from clade.orchestrator.errors import SetupError

GGUF_MAGIC = b"GGUF"
# GGUF v1 was replaced in 2023 and llama.cpp no longer reads it.
GGUF_VERSIONS = frozenset({2, 3})
# magic (4 bytes), version (u32), tensor count (u64), metadata count (u64)
GGUF_HEADER = struct.Struct("<4sIQQ")


class GGUFError(SetupError):
    """A model file is missing, is not a GGUF file, or llama.cpp cannot load it."""


def check_gguf(path: str | os.PathLike[str]) -> Path:
    """The resolved path of a readable GGUF file; :class:`GGUFError` otherwise."""
    file = Path(path).expanduser()
    if not file.is_file():
        what = "is a folder, not a file" if file.is_dir() else "does not exist"
        raise GGUFError(
            f"model file {file} {what}", hint="give the path of a .gguf file after 'llamacpp/'"
        )
    try:
        with file.open("rb") as stream:
            header = stream.read(GGUF_HEADER.size)
    except OSError as exc:
        raise GGUFError(f"cannot read model file {file}: {exc.strerror}") from exc
    if len(header) < GGUF_HEADER.size or header[:4] != GGUF_MAGIC:
        raise GGUFError(
            f"{file} is not a GGUF file (no GGUF header)",
            hint="llamacpp/ models must be .gguf files; convert others with llama.cpp's "
            "convert_hf_to_gguf.py",
        )
    _, version, _, _ = GGUF_HEADER.unpack(header)
    if version not in GGUF_VERSIONS:
        raise GGUFError(
            f"{file} has GGUF version {version}, which llama.cpp cannot read",
            hint="re-convert the model with a current llama.cpp",
        )
    return file.resolve()
