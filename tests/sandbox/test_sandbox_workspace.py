"""Workspaces: a private folder, HOME and TMPDIR per task, bounded read-back, and on the
Docker backend a fresh uid whose processes and files are gone (verified) once it is left."""

from __future__ import annotations

import json
import os
import threading

import pytest

from clade.sandbox import Sandbox, SandboxConfig, SandboxError, Workspace, make_sandbox
from clade.sandbox.config import WORKSPACE_UID0

from .conftest import SMALL, stray_processes

BACKENDS = [pytest.param("docker", marks=pytest.mark.docker), "local"]


@pytest.fixture(params=BACKENDS)
def sandbox(request):
    config = {"slots": 2, **SMALL}
    if request.param == "docker":
        config |= {"image": request.getfixturevalue("agent_image")}
        config |= {"run_id": request.getfixturevalue("run_id")}
    with make_sandbox(SandboxConfig(**config), request.param) as sb:
        yield sb


@pytest.fixture
def docker_box(agent_image, run_id):
    with make_sandbox(SandboxConfig(image=agent_image, run_id=run_id, slots=2, **SMALL)) as sb:
        yield sb


def py(code: str) -> list[str]:
    return ["python3", "-c", code]


def test_a_workspace_has_its_own_folder_home_and_tmpdir(sandbox):
    with sandbox.workspace() as ws:
        assert isinstance(sandbox, Sandbox) and isinstance(ws, Workspace)
        ws.put_files({"in/a.txt": b"a"})
        show = "import os, json; open('made', 'w').write('m'); print(json.dumps([os.getcwd(), os.environ['HOME'], os.environ['TMPDIR'], oct(os.stat('made').st_mode & 0o777)]))"
        result = ws.run(py(show), workdir="in")
        assert result.ok, result
        cwd, home, tmp, mode = json.loads(result.stdout)
        assert cwd == f"{ws.path}/in" and home.startswith(ws.path + "/")
        assert tmp.startswith(ws.path + "/") and mode == "0o600"  # umask 077
        assert ws.get_files("in") == {"a.txt": b"a", "made": b"m"}
        with pytest.raises(SandboxError):
            ws.put_files({"x": b""}, "../outside")
        path = ws.path
    if not sandbox.isolated:  # (the Docker backend's is checked from inside, below)
        assert not os.path.exists(path)


def test_read_back_is_bounded_and_says_what_it_left_out(sandbox):
    with sandbox.workspace() as ws:
        make = (
            "import os\n"
            "open('small.txt', 'w').write('ok')\n"
            "open('big.txt', 'wb').write(b'x' * 5000)\n"
            "os.symlink('/etc/passwd', 'link.txt')\n"
            "os.mkfifo('pipe.txt')\n"
            "os.makedirs('deep/er')\n"
            "for i in range(5): open(f'deep/er/f{i}.txt', 'wb').write(b'y' * 900)\n"
        )
        assert ws.run(py(make)).ok
        got = ws.get_files(".", max_file_bytes=1000, max_total_bytes=4000)
    assert got["small.txt"] == b"ok"
    kinds = {path: skip.kind for path, skip in got.skipped.items()}
    assert kinds["big.txt"] == "too_large" and got.skipped["big.txt"].size == 5000
    assert kinds["link.txt"] == "symlink" and kinds["pipe.txt"] == "special"
    assert "over_total" in {kinds.get(f"deep/er/f{i}.txt") for i in range(5)}
    assert sum(len(v) for v in got.values()) <= 4000
    assert any("big.txt: too large" in line for line in got.notes())


@pytest.mark.docker
def test_each_workspace_is_a_fresh_uid_in_a_folder_no_other_uid_can_enter(docker_box):
    seen = set()
    with docker_box.workspace() as b:
        b.put_files({"secret.txt": b"s"})
        plain = docker_box.run(["cat", f"{b.path}/secret.txt"])  # a plain command's uid
        assert not plain.ok and "Permission denied" in plain.stderr
        with docker_box.workspace() as a:
            for ws in (a, b):
                assert int(ws.run(["id", "-u"]).stdout) == ws.uid >= WORKSPACE_UID0
            peek = a.run(["cat", f"{b.path}/secret.txt"])
            assert not peek.ok and "Permission denied" in peek.stderr
        seen |= {a.uid, b.uid}
    for _ in range(3):
        with docker_box.workspace() as ws:
            assert ws.uid not in seen
            seen.add(ws.uid)


@pytest.mark.docker
def test_read_only_files_resist_their_own_workspace(docker_box):
    with docker_box.workspace() as ws:
        ws.put_files({"task.md": b"do it", "tests/t.py": b"assert 1"}, writable=False)
        tries = "echo x > task.md; rm -f task.md; mv task.md t2; chmod 666 task.md; echo x > tests/t.py; touch tests/new; rm -rf tests"
        ws.run(["sh", "-c", tries])
        assert ws.get_files(".") == {"task.md": b"do it", "tests/t.py": b"assert 1"}


@pytest.mark.docker
def test_leaving_kills_and_deletes_everything_of_the_workspace(docker_box):
    with docker_box.workspace() as ws:
        leave = "echo x > /tmp/left; echo x > /dev/shm/left; mkdir -p $HOME/.local; echo x > $HOME/.local/left; chmod 0 $HOME/.local; mkdir d; chmod 0 d"
        assert ws.run(["sh", "-c", leave]).ok
        path = ws.path
    look = docker_box.run(["sh", "-c", f"ls -A /tmp /dev/shm; test -e {path} && echo EXISTS"])
    assert look.stdout.split() == ["/dev/shm:", "/tmp:"], look
    assert stray_processes(docker_box.container_id) == []
    assert docker_box.restarts == 0  # the clean-up was verified, no restart needed


@pytest.mark.docker
def test_a_clean_up_that_cannot_be_verified_restarts_the_container(docker_box):
    with docker_box.workspace() as host:
        # `host` lends a folder to `guest`, then takes back the right to delete in it.
        assert host.run(["sh", "-c", "mkdir /tmp/lent && chmod 777 /tmp/lent"]).ok
        with docker_box.workspace() as guest:
            assert guest.run(["sh", "-c", "echo x > /tmp/lent/stuck"]).ok
            assert host.run(["chmod", "755", "/tmp/lent"]).ok
        assert docker_box.restarts == 1
        assert f"files of uid {guest.uid} survived" in docker_box.restart_reasons[0]
        lost = host.run(["true"])
        assert not lost.ok and "restarted" in (lost.reason or "")
        with pytest.raises(SandboxError, match="restarted"):
            host.get_files(".")
    with docker_box.workspace() as after:
        assert after.run(["ls", "-A", "/tmp"]).stdout == ""
    assert docker_box.run(["true"]).ok and docker_box.restarts == 1


@pytest.mark.docker
def test_a_workspace_filling_its_disk_leaves_the_others_theirs(docker_box):
    size = docker_box.config.slot_disk
    with docker_box.workspace() as full, docker_box.workspace() as other:
        fill = full.run(["sh", "-c", f"dd if=/dev/zero of=fill bs=1M count={size + 8}"])
        assert not fill.ok and "No space left" in fill.stderr
        other.put_files({"big.bin": b"x" * (size << 19)})  # half a slot
        assert len(other.get_files("big.bin")["big.bin"]) == size << 19


@pytest.mark.docker
def test_a_workspace_can_write_nowhere_but_its_folder_and_the_swept_ones(docker_box):
    probe = r"""
import json, os
writable, points = [], [os.getcwd()]  # its folder: the slot's mount cannot be listed
for line in open("/proc/self/mounts"):
    point, kind, options = line.split()[1], line.split()[2], line.split()[3].split(",")
    if "rw" in options and kind not in ("proc", "sysfs", "cgroup", "cgroup2"):
        points.append(point)
for point in points:
    for folder, dirs, _ in os.walk(point):
        try:
            open(os.path.join(folder, ".clade-probe"), "x").close()
            os.unlink(os.path.join(folder, ".clade-probe"))
            writable.append(folder)
        except OSError:
            pass
print(json.dumps(sorted(set(writable))))
"""
    with docker_box.workspace() as ws:
        result = ws.run(py(probe), timeout_s=30)
        assert result.ok, result
        found = json.loads(result.stdout)
        mine = [f for f in found if f == ws.path or f.startswith(ws.path + "/")]
        assert ws.path in mine
    assert sorted(set(found) - set(mine)) == ["/dev/mqueue", "/dev/shm", "/tmp"]


@pytest.mark.docker
def test_calls_of_one_workspace_run_one_at_a_time(docker_box):
    with docker_box.workspace() as ws:
        results = []
        threads = [
            threading.Thread(target=lambda: results.append(ws.run(["sleep", "1"])))
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(r.ok for r in results)  # the first one's end did not kill the second
