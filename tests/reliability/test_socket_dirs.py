"""The gateway's socket folders: attributable to their process, removed when done, and swept
(`clade sandbox prune`, the start of a run) once their owner is gone, as after a SIGKILL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner


@pytest.fixture
def tmpdir_env(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    yield tmp_path
    tempfile.tempdir = None


@pytest.fixture
def short_tmpdir(monkeypatch):
    import shutil
    import tempfile

    short = tempfile.mkdtemp(prefix="cs-", dir="/tmp")
    monkeypatch.setenv("TMPDIR", short)
    monkeypatch.setattr(tempfile, "tempdir", None)
    yield __import__("pathlib").Path(short)
    tempfile.tempdir = None
    shutil.rmtree(short, ignore_errors=True)


@pytest.mark.parametrize("where", ["short_tmpdir", "tmpdir_env"])
def test_a_socket_folder_names_its_owner_and_goes_away(where, request):
    from clade.sandbox.owner import owner_label
    from clade.sandbox.sockets import owned_socket_dirs, socket_dir

    tmpdir = request.getfixturevalue(where)
    with socket_dir() as folder:
        _, pid, started = owner_label().rsplit("/", 2)
        # In the temp dir when its path leaves room for the socket, else in /tmp.
        short = len(str(tmpdir).encode()) < 50
        assert folder.parent == (tmpdir if short else __import__("pathlib").Path("/tmp"))
        assert folder.name.startswith(f"clade-sock-{pid}.{started}.")
        assert oct(folder.stat().st_mode & 0o777) == "0o755"  # the sandbox's user reaches it
        assert len(str(folder / "llm.sock").encode()) < 100  # AF_UNIX
        assert owned_socket_dirs() == [folder]
    assert not folder.exists() and owned_socket_dirs() == []


def _killed_owner(tmpdir: os.PathLike[str]) -> str:
    """The folder a SIGKILLed process left behind."""
    code = (
        "from clade.sandbox.sockets import socket_dir\n"
        "with socket_dir() as f:\n    print(f, flush=True)\n    import time; time.sleep(60)\n"
    )
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    folder = proc.stdout.readline().strip()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return folder


def test_prune_removes_the_folders_of_dead_owners_only(short_tmpdir):
    from clade.sandbox.sockets import LEGACY_GRACE_S, prune_socket_dirs, socket_dir

    tmpdir_env = short_tmpdir

    dead = _killed_owner(tmpdir_env)
    assert os.path.isdir(dead)
    old_unattributed = tmpdir_env / "clade-sock-ab12cd34"  # the form before owners were named
    old_unattributed.mkdir()
    (old_unattributed / "llm.sock").touch()
    past = time.time() - LEGACY_GRACE_S - 10
    os.utime(old_unattributed, (past, past))
    fresh_unattributed = tmpdir_env / "clade-sock-ef56gh78"
    fresh_unattributed.mkdir()
    listening = tmpdir_env / "clade-sock-zz99yy88"  # old, but something still serves on it
    listening.mkdir()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(listening / "llm.sock"))
    server.listen(1)
    os.utime(listening, (past, past))
    unrelated = tmpdir_env / "something-else"
    unrelated.mkdir()
    try:
        with socket_dir() as mine:
            listed = [p for p in prune_socket_dirs(dry_run=True) if p.parent == tmpdir_env]
            assert listed == sorted([tmpdir_env / os.path.basename(dead), old_unattributed])
            removed = [p for p in prune_socket_dirs() if p.parent == tmpdir_env]
            assert not os.path.exists(dead) and not old_unattributed.exists()
            assert mine.exists() and fresh_unattributed.exists() and listening.exists()
            assert unrelated.exists() and len(removed) == 2
    finally:
        server.close()


def test_clade_sandbox_prune_sweeps_socket_folders(short_tmpdir, monkeypatch):
    import clade.sandbox.docker_backend as backend
    from clade.orchestrator.cli import app

    class NoContainers:
        class containers:  # the SDK names it so
            @staticmethod
            def list(**_: object) -> list[object]:
                return []

        def close(self) -> None:
            pass

    monkeypatch.setattr(backend, "docker_client", lambda *a, **k: NoContainers())
    dead = _killed_owner(short_tmpdir)
    result = CliRunner().invoke(app, ["sandbox", "prune"])
    assert result.exit_code == 0, result.output
    assert "socket folder(s) of dead runs" in result.output and dead in result.output
    assert not os.path.exists(dead)
