"""The grading harness without Docker: the plain-data codec, the composed programs, signed
verdicts, and the checker/solution split on the local backend (Docker and the exploit corpus
are in tests/exploits/)."""

from __future__ import annotations

import ast
import math

import pytest

from clade.orchestrator.evaluators.harness import SandboxGrader, Submission, decode, encode
from clade.orchestrator.evaluators.harness import grader as host
from clade.orchestrator.evaluators.harness.plain import MAX_DEPTH, NotPlain, dumps, loads


@pytest.mark.parametrize(
    "value",
    [None, True, 0, -(1 << 80), 1.5, math.inf, "x\ny", b"\x00\xff", [1, [2]], (1, "a"),
     {1: (2,), "k": [None]}, {1, 2}, frozenset({"a"}), 1 + 2j, {(1, 2): {3}}],
)  # fmt: skip
def test_plain_values_round_trip_as_exact_builtins(value):
    back = decode(loads(dumps(encode(value))))
    assert back == value and type(back) is type(value)


def test_nan_round_trips():
    assert math.isnan(decode(loads(dumps(encode(math.nan)))))


def test_only_exact_builtins_are_plain():
    class Yes(int):
        def __eq__(self, other):
            return True

    for cheat in (Yes(1), type("L", (list,), {})(), object(), lambda: 1):
        with pytest.raises(NotPlain):
            encode(cheat)
    assert encode([Yes(1)], handle=lambda obj: 7) == [{"$handle": 7}]


@pytest.mark.parametrize(
    "data",
    [{"$nope": []}, {"$set": [[1]]}, {"$dict": [[[1], 2]]}, {"$int": "9" * 5000},
     {"$handle": 1}, {"$tuple": 3}, {"a": 1, "b": 2}],
)  # fmt: skip
def test_decode_refuses_what_is_not_an_encoded_value(data):
    with pytest.raises(NotPlain):
        decode(data)


def test_decode_and_loads_bound_depth_and_size():
    deep: object = 1
    for _ in range(MAX_DEPTH + 2):
        deep = [deep]
    with pytest.raises(NotPlain):
        decode(deep)
    with pytest.raises(NotPlain):
        loads(b"[" * 200_000 + b"]" * 200_000)
    with pytest.raises(NotPlain):
        loads(b" " * (host.MAX_SOLUTION_BYTES * 5))


def _top_level_names(source: str) -> list[str]:
    names = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return names


@pytest.mark.parametrize("parts", [("plain.py", "_remote.py", "_checker.py"), ("plain.py", "_worker.py")])  # fmt: skip
def test_the_composed_programs_have_no_clashing_names(parts):
    """The sandbox runs the modules concatenated: a name defined twice would silently
    replace the first (it once turned an exception into a string)."""
    names = [n for p in parts for n in _top_level_names((host._HERE / p).read_text())]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    compile(host.checker_source(), "checker", "exec")
    compile(host.worker_source(), "worker", "exec")


def test_only_signed_verdicts_for_the_right_grade_count():
    key = b"k" * 32
    line = '{"id": "t", "index": 0, "run": 1}'
    mac = host.hmac.new(key, f"CLADE-VERDICT {line}".encode(), host.hashlib.sha256).hexdigest()
    assert host._verified(f"CLADE-VERDICT {line} {mac}", key) == ("CLADE-VERDICT", {"id": "t", "index": 0, "run": 1})  # fmt: skip
    assert host._verified(f"CLADE-VERDICT {line} {'0' * 64}", key) is None
    assert host._verified(f"CLADE-VERDICT {line} {mac}", b"x" * 32) is None
    assert host._verified(f"CLADE-VERDICT {line.replace('1}', '2}')} {mac}", key) is None


TESTS = """
import unittest
from mod import f, Box, CONSTANT


class T(unittest.TestCase):
    def test_value(self):
        self.assertEqual(f(2), 4)

    def test_raises(self):
        with self.assertRaises(ValueError):
            f(-1)

    def test_constant(self):
        self.assertEqual(CONSTANT, [1, 2])

    def test_aliasing(self):
        given = ["x"]
        Box(given).add("y")
        self.assertEqual(given, ["x"])
"""
HONEST = """
CONSTANT = [1, 2]
def f(x):
    if x < 0:
        raise ValueError("negative")
    return x * x
class Box:
    def __init__(self, items):
        self.items = list(items)
    def add(self, item):
        self.items.append(item)
        return self
"""


@pytest.fixture
def grader():
    from clade.sandbox import LocalSandbox

    with LocalSandbox() as box:
        yield SandboxGrader(box)


def test_an_honest_solution_passes_every_kind_of_test(grader):
    verdict = grader.check({"mod.py": HONEST}, TESTS, timeout=10)
    assert verdict.passed and verdict.tests_run == 4, verdict


@pytest.mark.parametrize(
    ("change", "failed"),
    [
        (("self.items = list(items)", "self.items = items"), {"test_aliasing"}),  # keeps the caller's list
        (('raise ValueError("negative")', "return 0"), {"test_raises"}),
        (("return x * x", "return type('Y', (int,), {'__eq__': lambda s, o: True})(0)"), {"test_value"}),
        (("return x * x", "raise SystemExit(0)"), {"test_value"}),
        (('raise ValueError("negative")', "import os; os._exit(0)"), {"test_raises"}),
    ],
)  # fmt: skip
def test_wrong_or_gaming_solutions_fail_exactly_their_tests(grader, change, failed):
    verdict = grader.check({"mod.py": HONEST.replace(*change)}, TESTS, timeout=10)
    assert {name for name, _ in verdict.failures} == failed, verdict


def test_refused_files_and_timeouts(grader):
    for name in ("unittest.py", "sitecustomize.py", "pkg/conftest.py", "x.pth"):
        verdict = grader.check({"mod.py": HONEST, name: ""}, TESTS, timeout=10)
        assert verdict.error.startswith("refused:") and not verdict.passed, name
    slow = grader.check({"mod.py": "import time\ntime.sleep(30)\n"}, TESTS, timeout=1)
    assert slow.timed_out and not slow.passed
    assert grader.check({"mod.py": "x" * (2 << 20)}, TESTS, timeout=1).error.startswith("solution too large")  # fmt: skip


def test_check_many_keeps_order_and_isolates_grades(grader):
    wrong = HONEST.replace("return x * x", "return 0")
    subs = [
        Submission(f"t{i}", {"mod.py": src}, TESTS, 10) for i, src in enumerate([HONEST, wrong] * 3)
    ]
    assert [v.passed for v in grader.check_many(subs)] == [True, False] * 3
