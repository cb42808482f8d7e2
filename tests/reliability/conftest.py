"""Fixtures of the reliability tests: a fresh SQLite archive and small trees."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def archive(tmp_path):
    from clade.archive import Archive

    with Archive(f"sqlite:///{tmp_path / 'db' / 'clade.db'}", tmp_path / "db" / "blobs") as opened:
        yield opened


@pytest.fixture
def make_tree(tmp_path):
    """Write `files` (path -> text) into a new folder and return it."""
    counter = iter(range(10_000))

    def make(files: dict[str, str]) -> Path:
        root = tmp_path / f"tree{next(counter)}"
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        return root

    return make
