"""Helpers every part of the orchestrator shares: the archive of this machine's Clade home
and the files of an agent folder (the built-in seed, or one a user points at).

They live here, not in ``dgm/``, so that the commands, the conductor and the judges open
the archive and read agents without importing the self-improvement run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from clade.orchestrator.config import settings

if TYPE_CHECKING:
    from clade.archive.facade import Archive

#: What of ``agents/`` makes the built-in seed's tree: the agent and its model client.
SEED_PARTS = ("coder", "llm_client.py")


def open_archive() -> Archive:
    """The archive of the settings' home (``CLADE_HOME``, ``CLADE_DB_URL``), created if new."""
    from clade.archive.facade import Archive

    home = settings().home
    home.mkdir(parents=True, exist_ok=True)
    return Archive(settings().archive_url, home / "blobs")


def seed_agent_folder() -> Path:
    """The built-in agents folder, ``agents/``, wherever Clade is installed."""
    from importlib import resources

    return Path(str(resources.files("clade.agents")))


def seed_files(folder: Path, parts: tuple[str, ...] | None = None) -> dict[str, bytes]:
    """An agent's tree: every file under ``folder`` (or only ``parts`` of it), caches left out."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
        and "__pycache__" not in path.parts
        and (parts is None or path.relative_to(folder).parts[0] in parts)
    }


def agent_files(ref: str) -> dict[str, bytes]:
    """The tree of an agent named by ``ref``: a folder holding a ``coder/`` package, or an
    archived candidate's id (or unique prefix) in :func:`open_archive`'s archive."""
    from clade.archive.errors import ConfigError

    folder = Path(ref)
    if folder.is_dir():
        files = seed_files(folder)
        if not any(p.startswith("coder/") for p in files):
            raise ConfigError(
                f"{folder} holds no coder/ package", hint="give the folder that contains coder/"
            )
        return files
    archive = open_archive()
    candidate = archive.get_candidate(archive.resolve_id(ref))
    return archive.blobs.files(candidate.tree_hash)
