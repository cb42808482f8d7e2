"""The seccomp profile: Docker's own default minus ptrace and its kin, applied to every
container; and the command wrappers' memory out of reach of their own uid."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import pytest

from clade.sandbox import DockerSandbox, SandboxConfig
from clade.sandbox._seccomp import DENIED, UPSTREAM, UPSTREAM_BLOB, profile

from .conftest import SMALL

ROOT = Path(__file__).resolve().parents[2]

#: Tries each way of reaching into a same-uid process or leaving kernel state behind and
#: prints {name: "ok" | errno name}.
PROBE = r"""
import ctypes, errno, json, os, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
out = {}
def status(ok, err=None):
    return "ok" if ok else errno.errorcode.get(err or ctypes.get_errno(), "?")
pid = os.fork()
if pid == 0:
    time.sleep(10)
    os._exit(0)
time.sleep(0.2)
attached = libc.ptrace(16, pid, None, None) == 0  # PTRACE_ATTACH a same-uid child
out["ptrace_attach"] = status(attached)
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
buf = ctypes.create_string_buffer(8)
vec = iovec(ctypes.cast(buf, ctypes.c_void_p), 8)
libc.process_vm_readv.restype = ctypes.c_ssize_t
out["process_vm_readv"] = status(libc.process_vm_readv(pid, ctypes.byref(vec), 1, ctypes.byref(vec), 1, 0) >= 0)
for name, nr, args in [("shmget", 29, (0, 4096, 0o1666)), ("msgget", 68, (0, 0o1666)),
                       ("semget", 64, (0, 1, 0o1666)), ("io_uring_setup", 425, (1, 0))]:
    out[name] = status(libc.syscall(nr, *args) >= 0)
out["mq_open"] = status(libc.mq_open(b"/clade-q", os.O_CREAT | os.O_RDWR, 0o666, None) >= 0)
# /proc/PID/mem is not a syscall: it is guarded by the target being dumpable.
try:
    open(f"/proc/{pid}/mem", "r+b", buffering=0).close()
    out["child_mem"] = "ok"
except OSError as exc:
    out["child_mem"] = status(False, exc.errno)
# The command's wrapper: its parent is `timeout`, whose parent is the wrapper shell.
wrapper = int(open(f"/proc/{os.getppid()}/status").read().split("PPid:")[1].split()[0])
for part in ("mem", "environ"):
    try:
        with open(f"/proc/{wrapper}/{part}", "r+b" if part == "mem" else "rb", buffering=0) as handle:
            if part == "environ":
                handle.read(1)
        out["wrapper_" + part] = "ok"
    except OSError as exc:
        out["wrapper_" + part] = status(False, exc.errno)
out["wrapper"] = open(f"/proc/{wrapper}/cmdline", "rb").read().split(b"\0")[0].decode()
os.kill(pid, 9)
print(json.dumps(out))
"""
DENIED_HERE = ("ptrace_attach", "process_vm_readv", "shmget", "msgget", "semget", "mq_open")


def test_the_profile_is_dockers_default_minus_the_denied_calls():
    data = UPSTREAM.read_bytes()
    blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    assert blob == UPSTREAM_BLOB  # moby v20.10.24's profiles/seccomp/default.json, verbatim
    upstream, ours = json.loads(data), profile()
    names = {n for rule in upstream["syscalls"] for n in rule["names"]}
    assert names >= DENIED  # every denied name was allowed somewhere: none is a typo
    assert not DENIED & {n for rule in ours["syscalls"] for n in rule["names"]}
    kept = [
        {**rule, "names": [n for n in rule["names"] if n not in DENIED]}
        for rule in upstream["syscalls"]
    ]
    assert ours["syscalls"] == [rule for rule in kept if rule["names"]]
    assert {k: v for k, v in ours.items() if k != "syscalls"} == {
        k: v for k, v in upstream.items() if k != "syscalls"
    }
    assert ours["defaultAction"] == "SCMP_ACT_ERRNO"


def test_an_installed_copy_ships_the_profile():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = config["package-data"].get("clade.sandbox", []) + config["package-data"]["*"]
    assert any(Path(UPSTREAM.name).match(p) for p in patterns)


@pytest.fixture(scope="module")
def box(agent_image):
    import uuid

    from .conftest import _remove_run

    rid = f"test-seccomp-{uuid.uuid4().hex[:8]}"
    try:
        with DockerSandbox(SandboxConfig(image=agent_image, run_id=rid, **SMALL)) as sb:
            yield sb
    finally:
        _remove_run(rid)


def _probe(result) -> dict:
    assert result.ok, result
    return json.loads(result.stdout)


@pytest.mark.docker
def test_the_probe_sees_ptrace_and_ipc_in_a_stock_container(agent_image):
    """The control: Docker's own profile allows what the sandbox's denies."""
    import docker

    client = docker.from_env()
    try:
        out = client.containers.run(
            agent_image, ["sh", "-c", 'timeout 30 python3 -c "$0"', PROBE], user="2000:2000",
            network_mode="none", remove=True, labels={"clade.test": "seccomp-control"},
        )  # fmt: skip
    finally:
        client.close()
    found = json.loads(out)
    assert found["ptrace_attach"] == "ok" and found["shmget"] == "ok" and found["mq_open"] == "ok"
    assert found["child_mem"] == "ok" and found["wrapper_mem"] == "ok"  # a dumpable parent


@pytest.mark.docker
def test_ptrace_and_ipc_are_denied_to_plain_commands_and_workspaces(box):
    plain = _probe(box.run(["python3", "-c", PROBE], timeout_s=20))
    with box.workspace() as ws:
        inside = _probe(ws.run(["python3", "-c", PROBE], timeout_s=20))
    for found in (plain, inside):
        assert {name: found[name] for name in DENIED_HERE} == dict.fromkeys(DENIED_HERE, "EPERM")
        assert found["io_uring_setup"] == "EPERM"


@pytest.mark.docker
def test_the_command_wrapper_is_out_of_reach_of_its_own_uid(box):
    with box.workspace() as ws:
        found = _probe(ws.run(["python3", "-c", PROBE], timeout_s=20))
    assert found["wrapper"] == "/usr/local/bin/clade-sh"
    assert found["child_mem"] == "ok"  # same uid, dumpable: the check itself works
    assert found["wrapper_mem"] == "EACCES" and found["wrapper_environ"] == "EACCES"
