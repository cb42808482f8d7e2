"""The seccomp profile of every sandbox container: Docker's own default profile, minus the
calls that let one process reach into another or leave state behind when every process
is gone.

``docker_default_seccomp.json`` is moby's ``profiles/seccomp/default.json`` of v20.10.24
(the engine this project runs on: Debian's docker.io 20.10.24, runc 1.1.5), verbatim:
its git blob id is :data:`UPSTREAM_BLOB`, which a test checks. :func:`profile` removes the
names in :data:`DENIED` from every rule, so the profile's default action (``EPERM``)
answers them, whatever capabilities a container has.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

UPSTREAM = Path(__file__).with_name("docker_default_seccomp.json")
#: ``git rev-parse v20.10.24:profiles/seccomp/default.json`` in moby/moby.
UPSTREAM_BLOB = "dbf1fa86f15145be72bb61eab4743268cd518143"

DENIED = frozenset(
    {
        # Reading or writing another process of the same uid: Docker allows ptrace on
        # kernels >= 4.8, and this kernel has no Yama LSM, so without this a daemon could
        # trace a later command and rewrite its exit status. The others are ptrace in
        # other clothes (memory copy, fd theft, address-space advice, kernel object compare).
        "ptrace",
        "process_vm_readv",
        "process_vm_writev",
        "pidfd_getfd",
        "process_madvise",
        "kcmp",
        # Kernel objects that outlive every process of their creator: SysV shared memory,
        # message queues, semaphore sets, and POSIX message queues. Denied rather than
        # cleaned up per workspace: nothing a sandboxed program needs (Python's
        # multiprocessing uses POSIX shared memory, files in /dev/shm, which are swept).
        "shmget",
        "msgget",
        "semget",
        "mq_open",
        # io_uring: a large kernel surface, removed from Docker's own default in 25.0
        # (moby 891241e7e7, "seccomp: block io_uring_* syscalls in default profile").
        "io_uring_setup",
        "io_uring_enter",
        "io_uring_register",
    }
)


@cache
def profile() -> dict[str, Any]:
    """Docker's default profile with every name in :data:`DENIED` taken out of its rules."""
    data = json.loads(UPSTREAM.read_text())
    rules = []
    for rule in data["syscalls"]:
        names = [name for name in rule["names"] if name not in DENIED]
        if names or not rule["names"]:  # a rule left without names would match nothing
            rules.append({**rule, "names": names})
    return {**data, "syscalls": rules}


@cache
def security_opt() -> str:
    """The ``security_opt`` entry that applies :func:`profile` to a container."""
    return "seccomp=" + json.dumps(profile(), separators=(",", ":"))
