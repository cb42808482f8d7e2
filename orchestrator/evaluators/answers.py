"""Bounded reading and parsing of plain-text answers that are scored on the host.

What an agent leaves in ``answer.txt`` is untrusted data read by the orchestrator itself,
so every check here is bounded before it starts: an answer over :data:`MAX_ANSWER_CHARS`
is a wrong answer (not a memory spike), text with control characters or undecodable bytes
is a wrong answer, arithmetic is parsed only after a length and character check, and the
numbers an expression uses are checked before anything is evaluated, so no answer can make
the host compute with huge numbers or recurse deeply. Details shown back are truncated.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from fractions import Fraction

ANSWER = "answer.txt"
#: Characters of ``answer.txt`` read at most; longer answers are wrong. Every generated
#: task's answer fits in a few hundred characters.
MAX_ANSWER_CHARS = 4096
#: Characters of an arithmetic expression parsed at most.
MAX_EXPRESSION_CHARS = 200
#: Characters of an answer or an error quoted in a score's detail.
DETAIL_CHARS = 200

# C0/C1 controls except tab, newline and carriage return; U+FFFD marks bytes that were not
# UTF-8; line/paragraph separators and zero-width characters hide text from the eye.
_NOT_PLAIN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd\u2028\u2029\u200b-\u200f\ufeff]"
)
_EXPRESSION_CHARS = re.compile(r"[0-9+\-*/() \t]*")


class WrongAnswer(ValueError):
    """The answer is wrong before it is compared; the message is the score's detail."""


def clip(text: str, limit: int = DETAIL_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how much was cut."""
    return text if len(text) <= limit else f"{text[:limit]}... [{len(text) - limit} more]"


def read_answer(outputs: Mapping[str, str]) -> str:
    """The stripped text of ``answer.txt``, or :class:`WrongAnswer` when it is missing,
    too long or not plain text."""
    text = outputs.get(ANSWER)
    if text is None:
        raise WrongAnswer(f"{ANSWER} is missing")
    if not isinstance(text, str):
        raise WrongAnswer(f"{ANSWER} is not text")
    if len(text) > MAX_ANSWER_CHARS:
        raise WrongAnswer(
            f"{ANSWER} holds {len(text)} characters; an answer over {MAX_ANSWER_CHARS} is wrong"
        )
    if _NOT_PLAIN.search(text):
        raise WrongAnswer(f"{ANSWER} is not plain text (control characters or binary data)")
    return text.strip()


def parse_expression(text: str, unary: bool = False) -> ast.expr:
    """Parse an arithmetic expression of integers, + - * / and parentheses (and signs, with
    ``unary``).

    Length and characters are checked before ``ast.parse`` sees the text, and the tree's
    node types after, so nothing but those operations can get through."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise WrongAnswer(f"the expression is over {MAX_EXPRESSION_CHARS} characters")
    if not _EXPRESSION_CHARS.fullmatch(text):
        bad = sorted({ch for ch in text if not _EXPRESSION_CHARS.fullmatch(ch)})
        raise WrongAnswer(
            f"only digits, + - * / and parentheses are allowed, not {clip(repr(''.join(bad)), 40)}"
        )
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        raise WrongAnswer(f"not a valid expression: {clip(str(exc), 80)}") from None
    allowed: tuple[type[ast.AST], ...] = (
        ast.Expression,
        ast.BinOp,
        ast.Add,
        ast.Sub,
        ast.Mult,
        ast.Div,
    )
    if unary:
        allowed += (ast.UnaryOp, ast.USub, ast.UAdd)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, int) or isinstance(node.value, bool):
                raise WrongAnswer("only integers are allowed")
        elif not isinstance(node, allowed):
            raise WrongAnswer(f"{type(node).__name__} is not allowed")
    return tree.body


def constants(node: ast.AST) -> list[int]:
    """The integer literals of a parsed expression, in order."""
    return [
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, int)
    ]


def evaluate(node: ast.AST, unary: bool = False) -> Fraction:
    """The exact value of a parsed expression; ``unary`` allows a leading minus sign.

    Call it only on trees whose numbers were checked (see :func:`parse_expression`):
    evaluation is exact, so its cost grows with the numbers in the tree."""
    if isinstance(node, ast.Expression):
        return evaluate(node.body, unary)
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int)
        and not isinstance(node.value, bool)
    ):
        return Fraction(node.value)
    if unary and isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = evaluate(node.operand, unary)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
        left, right = evaluate(node.left, unary), evaluate(node.right, unary)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if right == 0:
            raise WrongAnswer("division by zero")
        return left / right
    raise WrongAnswer(
        f"only numbers, + - * / and parentheses are allowed, not {type(node).__name__}"
    )
