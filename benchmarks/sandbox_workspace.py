"""What a workspace costs: one small task (put a file, run a command, read the folder back)
done with plain sandbox calls in a shared folder (the reference: how tasks ran before
workspaces) and in a workspace of its own (a fresh uid, killed, cleared and verified when
left), side by side in the same warm container, alternating, so both see the same load.
Also: a bare enter+leave, and the docker execs each adds. Target (issue 15): a
workspace's enter/leave adds at most ~2 execs.

    .venv/bin/python benchmarks/sandbox_workspace.py [--tasks N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=20, help="tasks of each kind")
    args = parser.parse_args()

    from clade.orchestrator.config import settings
    from clade.sandbox import DockerSandbox, SandboxConfig, docker_backend
    from clade.sandbox.images import build_agent_image

    execs = [0]
    real = docker_backend.run_exec

    def counted(*a: Any, **k: Any) -> Any:
        execs[0] += 1
        return real(*a, **k)

    docker_backend.run_exec = counted  # type: ignore[assignment]
    config = SandboxConfig(
        image=build_agent_image(settings().base_image).tag,
        slots=1,
        memory_mb=512,
        run_id=f"bench-ws-{uuid.uuid4().hex[:8]}",
    )
    files = {"task.md": b"sort these words", "work/input.txt": b"b a c\n" * 100}
    cmd = ["python3", "-c", "open('work/answer.txt', 'w').write('a b c')"]
    times: dict[str, list[float]] = {"plain": [], "workspace": [], "enter_leave": []}
    counts: dict[str, list[int]] = {name: [] for name in times}

    with DockerSandbox(config) as box:

        def plain(i: int) -> None:
            folder = f"tasks/{i}"
            box.put_files(files, folder)
            assert box.run(cmd, workdir=folder).ok
            assert box.get_files(f"{folder}/work")["answer.txt"] == b"a b c"

        def workspace(i: int) -> None:
            with box.workspace() as ws:
                ws.put_files(files)
                assert ws.run(cmd).ok
                assert ws.get_files("work")["answer.txt"] == b"a b c"

        def enter_leave(i: int) -> None:
            with box.workspace():
                pass

        kinds: dict[str, Callable[[int], None]] = {
            "plain": plain,
            "workspace": workspace,
            "enter_leave": enter_leave,
        }
        for i in range(args.tasks):
            for name, task in kinds.items():
                before, start = execs[0], time.perf_counter()
                task(i)
                times[name].append(time.perf_counter() - start)
                counts[name].append(execs[0] - before)
        restarts = box.restarts

    median = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        q = statistics.quantiles(values, n=10) if len(values) > 1 else values * 9
        print(
            f"{name:12s} median {median[name] * 1000:7.1f} ms  p10 {q[0] * 1000:7.1f}  "
            f"p90 {q[-1] * 1000:7.1f}  docker execs {statistics.median(counts[name]):.0f}"
        )
    extra = median["workspace"] - median["plain"]
    print(f"a task in a workspace costs {extra * 1000:+.1f} ms against plain calls")
    result = {
        "tasks": args.tasks,
        "plain_task_s": round(median["plain"], 4),
        "workspace_task_s": round(median["workspace"], 4),
        "workspace_overhead_s": round(extra, 4),
        "enter_leave_s": round(median["enter_leave"], 4),
        "execs_plain_task": statistics.median(counts["plain"]),
        "execs_workspace_task": statistics.median(counts["workspace"]),
        "execs_enter_leave": statistics.median(counts["enter_leave"]),
        "restarts": restarts,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
