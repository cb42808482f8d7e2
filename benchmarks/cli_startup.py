"""How long `clade --help` takes, against a bare `python -c pass`, in the same run.

Both are timed as fresh processes of the same interpreter, alternating, and the medians are
reported. Target (Foundation issue): clade_help_s < 0.5.

    .venv/bin/python benchmarks/cli_startup.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "clade_help_s": [sys.executable, "-m", "clade.orchestrator", "--help"],
    "python_s": [sys.executable, "-c", "pass"],
}


def wall_time(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeat", type=int, default=15, help="timed runs of each command (default 15)"
    )
    args = parser.parse_args()

    for cmd in COMMANDS.values():  # warm the file cache, untimed
        wall_time(cmd)
    samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeat):
        for name, cmd in COMMANDS.items():
            samples[name].append(wall_time(cmd))
    result = {name: round(statistics.median(times), 4) for name, times in samples.items()}
    for name, times in samples.items():
        print(
            f"{name}: median {statistics.median(times):.3f}s  min {min(times):.3f}s  max {max(times):.3f}s"
        )
    print(
        f"clade --help costs {result['clade_help_s'] / result['python_s']:.1f}x a bare interpreter start"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
