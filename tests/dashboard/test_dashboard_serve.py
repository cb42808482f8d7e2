"""`clade serve`: loopback by default, a remote host only when asked, a real server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clade.archive.errors import ConfigError
from clade.orchestrator.cli import app
from clade.orchestrator.cli.serve import is_loopback

CLADE = Path(sys.executable).parent / "clade"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("::1", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.4", False), ("example.com", False)],
)  # fmt: skip
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_a_remote_host_is_refused_without_allow_remote(tmp_path):
    result = CliRunner().invoke(
        app, ["serve", "--host", "0.0.0.0", "--db", f"sqlite:///{tmp_path}/x.db"]
    )
    assert isinstance(result.exception, ConfigError)
    assert "not a loopback address" in str(result.exception)
    assert "--allow-remote" in str(result.exception)


def test_before_any_run_the_dashboard_says_how_to_start_one(tmp_path):
    """No archive yet: an empty dashboard with the command, never a file created by it;
    once a run has made the archive, the same server shows it."""
    import httpx

    from clade.archive import Archive

    port, where = _free_port(), tmp_path / "later" / "clade.db"
    env = {**os.environ, "CLADE_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [str(CLADE), "serve", "--port", str(port), "--db", f"sqlite:///{where}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    try:
        page = _get_when_up(proc, f"http://127.0.0.1:{port}/")
        assert page.status_code == 200
        assert "clade run examples/run.yaml" in page.text and str(where) in page.text
        assert httpx.get(f"http://127.0.0.1:{port}/api/runs", timeout=5).json() == []
        assert httpx.get(f"http://127.0.0.1:{port}/runs/01abc", timeout=5).status_code == 404
        assert not where.exists()  # a read-only dashboard makes no archive
        with Archive(f"sqlite:///{where}", where.parent / "blobs") as made:
            run_id = made.create_run("first").id
        listed = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert run_id in listed.text and "clade run examples/run.yaml" not in listed.text
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert "start a run with `clade run examples/run.yaml`" in out
    assert "Traceback" not in out


def _get_when_up(proc: subprocess.Popen, url: str):
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            time.sleep(0.2)  # polling for the port to open, bounded by the deadline
    raise AssertionError(proc.stdout.read() if proc.poll() is not None else "no answer")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_clade_serve_answers_on_loopback(seeded, tmp_path):
    import httpx

    port = _free_port()
    db = seeded.archive.url
    env = {**os.environ, "CLADE_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [str(CLADE), "serve", "--port", str(port), "--db", db, "--blobs", str(seeded.archive.blobs.root)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    try:
        deadline, response = time.monotonic() + 60, None
        while response is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/runs/{seeded.run_id}", timeout=5)
            except httpx.TransportError:
                time.sleep(0.2)  # polling for the port to open, bounded by the deadline
        assert response is not None, proc.stdout.read() if proc.poll() is not None else "no answer"
        assert response.status_code == 200 and 'class="node ' in response.text
        foreign = httpx.get(
            f"http://127.0.0.1:{port}/", headers={"Host": "evil.example"}, timeout=5
        )
        assert foreign.status_code == 400  # DNS rebinding: other host names are refused
        refused = httpx.post(f"http://127.0.0.1:{port}/", timeout=5)
        assert refused.status_code == 405
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in out and "read-only" in out
