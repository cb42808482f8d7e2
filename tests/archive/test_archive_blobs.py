"""The content-addressed blob store: deterministic tarballs, export, diff, corruption."""

from __future__ import annotations

import gzip
import os

import pytest

from clade.archive.blobs import BlobStore, tar_tree, unified_diff
from clade.archive.errors import ArchiveError, CorruptBlobError, MissingBlobError


def test_same_content_gives_same_hash_whatever_the_metadata(tmp_path, make_tree):
    first = make_tree({"a.py": "x = 1\n", "pkg/b.py": "y = 2\n"})
    second = make_tree({"pkg/b.py": "y = 2\n", "a.py": "x = 1\n"})  # other order
    os.utime(second / "a.py", (1, 1))
    (second / "__pycache__").mkdir()
    (second / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"junk")
    assert tar_tree(first) == tar_tree(second)
    store = BlobStore(tmp_path / "blobs")
    digest = store.put_tree(first)
    assert store.put_tree(second) == digest
    assert len(list((tmp_path / "blobs").rglob("*.tar.gz"))) == 1


def test_a_changed_file_or_mode_changes_the_hash(make_tree):
    base = make_tree({"a.py": "x = 1\n"})
    changed = make_tree({"a.py": "x = 2\n"})
    executable = make_tree({"a.py": "x = 1\n"})
    (executable / "a.py").chmod(0o755)
    hashes = {tar_tree(base), tar_tree(changed), tar_tree(executable)}
    assert len(hashes) == 3


def test_export_restores_files_and_modes(tmp_path, make_tree):
    src = make_tree({"run.sh": "echo hi\n", "deep/er/data.txt": "d\n"})
    (src / "run.sh").chmod(0o755)
    store = BlobStore(tmp_path / "blobs")
    out = store.export_tree(store.put_tree(src), tmp_path / "out")
    assert (out / "deep/er/data.txt").read_text() == "d\n"
    assert os.access(out / "run.sh", os.X_OK)
    with pytest.raises(ArchiveError, match="not empty"):
        store.export_tree(store.put_tree(src), out)


def test_corrupt_and_missing_blobs_raise_typed_errors(tmp_path, make_tree):
    store = BlobStore(tmp_path / "blobs")
    digest = store.put_tree(make_tree({"a.py": "x = 1\n"}))
    path = store.path(digest)
    path.write_bytes(gzip.compress(b"something else", mtime=0))
    with pytest.raises(CorruptBlobError, match="does not match its hash"):
        store.get(digest)
    path.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(CorruptBlobError):
        store.get(digest)
    with pytest.raises(MissingBlobError):
        store.get("0" * 64)


def test_blob_writes_leave_no_temporary_files(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    digest = store.put(b"log text", "log")
    assert store.get(digest, "log") == b"log text"
    assert [p.name for p in store.path(digest, "log").parent.iterdir()] == [f"{digest}.gz"]


def test_unified_diff_covers_changed_added_removed_and_binary_files():
    old = {"same.py": b"a\n", "changed.py": b"x = 1\n", "gone.py": b"bye\n", "img": b"\xff\x00"}
    new = {"same.py": b"a\n", "changed.py": b"x = 2\n", "added.py": b"hi\n", "img": b"\xfe\x00"}
    text = unified_diff(old, new, "A", "B")
    assert "--- A/changed.py\n+++ B/changed.py\n" in text and "-x = 1\n+x = 2\n" in text
    assert "--- /dev/null\n+++ B/added.py" in text
    assert "--- A/gone.py\n+++ /dev/null" in text
    assert "Binary files A/img and B/img differ" in text
    assert "same.py" not in text


class DictUpstream:
    """An upstream blob store in memory (a Ray worker's is the orchestrator's BlobDepot)."""

    def __init__(self) -> None:
        self.blobs: dict[tuple[str, str], bytes] = {}
        self.fetched: list[str] = []

    def fetch(self, digest: str, kind: str) -> bytes | None:
        self.fetched.append(digest)
        return self.blobs.get((digest, kind))

    def publish(self, digest: str, kind: str, data: bytes) -> None:
        self.blobs[(digest, kind)] = data


def test_a_cache_of_an_upstream_store_fetches_what_it_lacks_and_publishes_what_it_writes(
    tmp_path, make_tree
):
    upstream = DictUpstream()
    orchestrator = BlobStore(tmp_path / "orchestrator")
    tree = orchestrator.put_tree(make_tree({"a.py": "x = 1\n"}))
    upstream.publish(tree, "tree", orchestrator.get(tree))
    worker = BlobStore(tmp_path / "worker", upstream)
    assert worker.has(tree) and worker.files(tree) == {"a.py": b"x = 1\n"}  # fetched by hash
    worker.get(tree)
    assert upstream.fetched == [tree]  # then kept: fetched once
    log = worker.put(b"the agent's log", "log")
    assert upstream.blobs[(log, "log")] == b"the agent's log"  # published as it was written
    assert not worker.has("0" * 64, "log")
    with pytest.raises(MissingBlobError):
        worker.get("0" * 64, "log")


def test_an_upstream_blob_that_does_not_match_its_hash_is_refused(tmp_path):
    upstream = DictUpstream()
    digest = BlobStore(tmp_path / "orchestrator").put(b"right", "log")
    upstream.blobs[(digest, "log")] = b"wrong"  # a corrupt or forged blob upstream
    with pytest.raises(CorruptBlobError, match="upstream"):
        BlobStore(tmp_path / "worker", upstream).get(digest, "log")
    assert not (tmp_path / "worker").exists() or not any((tmp_path / "worker").rglob("*.gz"))
