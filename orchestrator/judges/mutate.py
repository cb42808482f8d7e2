"""Seeded mutations of a Python function body: off-by-one, swapped operator, wrong return.

A mutation replaces one expression in the source text (by its AST position), so the rest
of the code keeps its formatting and comments: the two answers of a pair differ only where
the bug is.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Iterator
from typing import Literal

Kind = Literal["off_by_one", "swapped_operator", "wrong_return"]
KINDS: tuple[Kind, ...] = ("off_by_one", "swapped_operator", "wrong_return")

_BINOPS: dict[type, type] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult,
    ast.Div: ast.Mult, ast.Mod: ast.FloorDiv,
}  # fmt: skip
_CMPOPS: dict[type, type] = {
    ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
}  # fmt: skip
_BOUNDS: dict[type, type] = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}


def _sites(tree: ast.AST, kind: Kind, first_line: int) -> Iterator[tuple[ast.expr, str]]:
    """(node to replace, replacement source) for every place ``kind`` applies."""
    for node in ast.walk(tree):
        if getattr(node, "lineno", 0) < first_line or not isinstance(node, ast.expr | ast.stmt):
            continue
        if kind == "off_by_one":
            if (
                isinstance(node, ast.Constant)
                and type(node.value) is int
                and node.end_lineno == node.lineno
            ):
                yield node, str(node.value + 1)
                if node.value > 0:
                    yield node, str(node.value - 1)
            elif isinstance(node, ast.Compare) and type(node.ops[0]) in _BOUNDS:
                yield node, _with_op(node, _BOUNDS[type(node.ops[0])]())
        elif kind == "swapped_operator":
            if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
                new = ast.BinOp(left=node.left, op=_BINOPS[type(node.op)](), right=node.right)
                yield node, ast.unparse(new)
            elif isinstance(node, ast.Compare) and type(node.ops[0]) in _CMPOPS:
                yield node, _with_op(node, _CMPOPS[type(node.ops[0])]())
            elif isinstance(node, ast.BoolOp):
                other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
                yield node, ast.unparse(ast.BoolOp(op=other, values=node.values))
        elif isinstance(node, ast.Return) and node.value is not None:
            value = node.value
            if isinstance(value, ast.Constant) and isinstance(value.value, bool):
                yield value, str(not value.value)
            elif isinstance(value, ast.Constant) and value.value is None:
                continue
            else:
                yield value, "None"


def _with_op(node: ast.Compare, op: ast.cmpop) -> str:
    return ast.unparse(
        ast.Compare(left=node.left, ops=[op, *node.ops[1:]], comparators=node.comparators)
    )


def _replace(source: str, node: ast.expr, text: str) -> str:
    lines = source.splitlines(keepends=True)
    start = sum(len(line) for line in lines[: node.lineno - 1]) + _col(
        lines[node.lineno - 1], node.col_offset
    )
    end_line = node.end_lineno or node.lineno
    end = sum(len(line) for line in lines[: end_line - 1]) + _col(
        lines[end_line - 1], node.end_col_offset or 0
    )
    if "\n" in source[start:end] or text == source[start:end]:
        return source
    bare = source[:start] + text + source[end:]
    if _parses_as(bare, node.lineno, start - sum(len(x) for x in lines[: node.lineno - 1]), text):
        return bare
    return source[:start] + f"({text})" + source[end:]


def _parses_as(source: str, lineno: int, col: int, text: str) -> bool:
    """Whether ``source`` holds ``text`` as one expression at (lineno, character col)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    line = source.splitlines()[lineno - 1]
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.expr)
            and node.lineno == lineno
            and _col(line, node.col_offset) == col
            and ast.unparse(node) == ast.unparse(ast.parse(text, mode="eval").body)
        ):
            return True
    return False


def _col(line: str, byte_offset: int) -> int:
    """AST columns are UTF-8 byte offsets; turn one into a character offset."""
    return len(line.encode()[:byte_offset].decode(errors="ignore"))


def mutants(prompt: str, body: str, seed: int) -> Iterator[tuple[Kind, str]]:
    """Distinct mutated bodies of ``body`` (completing ``prompt``), in a seeded order."""
    source = prompt + body
    tree = ast.parse(source)
    first_line = prompt.count("\n") + 1
    rng = random.Random(seed)
    kinds = list(KINDS)
    rng.shuffle(kinds)
    per_kind: dict[Kind, list[tuple[ast.expr, str]]] = {}
    for kind in kinds:
        sites = list(_sites(tree, kind, first_line))
        rng.shuffle(sites)
        per_kind[kind] = sites
    seen = {source}
    while any(per_kind.values()):
        for kind in kinds:
            if not per_kind[kind]:
                continue
            node, text = per_kind[kind].pop()
            mutated = _replace(source, node, text)
            if mutated in seen or not mutated.startswith(prompt):
                continue
            try:
                ast.parse(mutated)
            except SyntaxError:
                continue
            seen.add(mutated)
            yield kind, mutated[len(prompt) :]
