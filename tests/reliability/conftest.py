"""Fixtures of the reliability tests: a fresh SQLite archive (``make_tree`` is shared, in
tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def archive(tmp_path):
    from clade.archive import Archive

    with Archive(f"sqlite:///{tmp_path / 'db' / 'clade.db'}", tmp_path / "db" / "blobs") as opened:
        yield opened
