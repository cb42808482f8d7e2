"""Command line of the seed agent: ``python -m coder --task-file task.md --workdir repo``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .loop import Limits, Trajectory, solve


def _model(max_tokens: int | None, temperature: float | None):
    # The model client sits beside this package in the agent's tree (agents/llm_client.py).
    import llm_client

    params = {
        k: v for k, v in (("max_tokens", max_tokens), ("temperature", temperature)) if v is not None
    }

    def complete(messages: list[dict[str, str]]) -> tuple[str, int]:
        response = llm_client.chat(messages, **params)
        usage = response.get("usage") or {}
        return response["choices"][0]["message"]["content"] or "", int(usage.get("total_tokens", 0))

    return complete


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="coder", description="A coding agent: bash and file edits in a loop."
    )
    parser.add_argument(
        "--task-file", type=Path, required=True, help="the task statement (text or markdown)"
    )
    parser.add_argument("--workdir", type=Path, default=Path.cwd(), help="repository to work in")
    parser.add_argument(
        "--trajectory", type=Path, default=Path("trajectory.jsonl"), help="where steps are logged"
    )
    parser.add_argument("--max-steps", type=int, default=Limits.max_steps)
    parser.add_argument("--max-seconds", type=float, default=Limits.max_seconds)
    parser.add_argument(
        "--max-tokens", type=int, default=Limits.max_tokens, help="total tokens over all calls"
    )
    parser.add_argument("--command-timeout", type=float, default=Limits.command_timeout)
    parser.add_argument(
        "--reply-tokens",
        type=int,
        default=None,
        help="max tokens of one reply (default: the role's)",
    )
    parser.add_argument(
        "--temperature", type=float, default=None, help="sampling temperature (default: the role's)"
    )
    args = parser.parse_args(argv)

    limits = Limits(args.max_steps, args.max_seconds, args.max_tokens, args.command_timeout)
    trajectory = Trajectory(args.trajectory)
    try:
        outcome = solve(
            args.task_file.read_text(),
            args.workdir.resolve(),
            _model(args.reply_tokens, args.temperature),
            limits,
            trajectory,
        )
    finally:
        trajectory.close()
    print(f"{outcome.status} after {outcome.steps} steps, {outcome.tokens} tokens")
    return 0 if outcome.status == "finished" else 3


if __name__ == "__main__":
    sys.exit(main())
