"""Command line of the seed agent: ``python -m coder --task-file task.md --workdir repo``.

The action format follows the model: when the model service says its model decodes under a
grammar (``GET /v1/models``, ``"clade": {"grammar": true}``), every request carries the
action's JSON schema as ``response_format`` and the agent reads JSON actions; otherwise it
uses the tag format. Each model call gives up at the attempt's deadline.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import context
from .actions import response_format
from .loop import Limits, TrajectoryLog, solve

#: Characters of a JSON action per token of the reply budget (a conservative 2.5, minus the
#: field names), so that a capped action closes before max_tokens cuts it.
CHARS_PER_TOKEN = 2.5


def _style(choice: str) -> str:
    if choice != "auto":
        return choice
    import llm_client

    try:
        return "json" if llm_client.decodes_under_grammar(timeout=30) else "tags"
    except llm_client.LLMError:
        return "tags"  # no model service yet: the first call will say why


def _model(style: str, reply_tokens: int | None, sampling: dict[str, float | int], deadline: float):
    # The model client sits beside this package in the agent's tree (agents/llm_client.py).
    import llm_client

    params: dict[str, object] = dict(sampling)
    if reply_tokens is not None:
        params["max_tokens"] = reply_tokens
    if style == "json":
        chars = int((reply_tokens or 480) * CHARS_PER_TOKEN) - 60
        params["response_format"] = response_format(max(80, chars))

    def complete(messages: list[dict[str, str]]) -> tuple[str, int]:
        timeout = max(1.0, deadline - time.monotonic())
        response = llm_client.chat(messages, timeout=timeout, **params)
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
    parser.add_argument(
        "--seed", type=int, default=None, help="sampling seed (default: the role's)"
    )
    parser.add_argument(
        "--actions",
        choices=("auto", "json", "tags"),
        default="auto",
        help="action format: json (schema-constrained), tags, or auto: json when the model "
        "decodes under a grammar",
    )
    parser.add_argument(
        "--context-chars", type=int, default=None, help="characters of chat sent per call"
    )
    args = parser.parse_args(argv)

    started = time.monotonic()
    limits = Limits(args.max_steps, args.max_seconds, args.max_tokens, args.command_timeout)
    style = _style(args.actions)
    budget = context.BUDGETS[style]
    if args.context_chars is not None:
        budget = context.ContextBudget(
            args.context_chars, budget.examples_chars, budget.observation_chars
        )
    sampling = {
        k: v for k, v in (("temperature", args.temperature), ("seed", args.seed)) if v is not None
    }
    model = _model(style, args.reply_tokens, sampling, started + args.max_seconds)
    trajectory = TrajectoryLog(args.trajectory)
    try:
        outcome = solve(
            args.task_file.read_text(),
            args.workdir.resolve(),
            model,
            limits,
            trajectory,
            style=style,
            budget=budget,
        )
    finally:
        trajectory.close()
    print(f"{outcome.status} after {outcome.steps} steps, {outcome.tokens} tokens")
    return 0 if outcome.status == "finished" else 3


if __name__ == "__main__":
    sys.exit(main())
