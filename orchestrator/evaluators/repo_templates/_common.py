"""The shape of a generated repository and helpers that write its unittest modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from random import Random

PACKAGES = ["ledger", "shelf", "roster", "tracker", "catalog", "planner", "almanac", "kiosk",
            "depot", "atlas", "harbor", "orchard", "quarry", "studio", "vault", "beacon"]  # fmt: skip
README = """# {package}

A small Python package. Run its tests from this folder with:

    python3 -m unittest discover -s tests
"""


@dataclass(frozen=True)
class Repo:
    """One generated repository: what the agent sees, and what stays with the grader."""

    package: str
    modules: dict[str, str]  # path -> source with the bug, e.g. "ledger/pages.py"
    fix: dict[str, list[tuple[str, str]]]  # path -> (buggy text, fixed text) replacements
    issue: str  # the symptom, as a user would report it
    visible: str  # the visible failing test module
    hidden: str  # the hidden test module (a superset of the visible cases)
    test_name: str = field(default="test_issue.py")

    def files(self) -> dict[str, str]:
        """The agent's starting work directory."""
        return {
            **self.modules,
            f"{self.package}/__init__.py": f'"""The {self.package} package."""\n',
            "README.md": README.format(package=self.package),
            "ISSUE.md": self.issue,
            f"tests/{self.test_name}": self.visible,
        }

    def fixed_modules(self) -> dict[str, str]:
        """The package's modules with the reference fix applied."""
        fixed = dict(self.modules)
        for path, edits in self.fix.items():
            for old, new in edits:
                if fixed[path].count(old) != 1:
                    raise ValueError(f"fix of {path} does not match exactly once: {old!r}")
                fixed[path] = fixed[path].replace(old, new)
        return fixed


def pick(rng: Random, *options: str) -> str:
    return options[rng.randrange(len(options))]


def package_name(rng: Random) -> str:
    return pick(rng, *PACKAGES)


def test_module(header: str, cases: list[str], class_name: str) -> str:
    """A unittest module: ``header`` (imports, fixtures), then one test method per case."""
    methods = "".join(
        f"\n    def test_{i}(self):\n" + "".join(f"        {line}\n" for line in case.splitlines())
        for i, case in enumerate(cases)
    )
    return (
        f"import unittest\n\n{header.strip()}\n\n\nclass {class_name}(unittest.TestCase):{methods}"
    )


def tests(header: str, visible: list[str], hidden: list[str]) -> tuple[str, str]:
    """The visible test module, and the hidden one holding its cases and ``hidden``'s."""
    return (
        test_module(header, visible, "TestIssue"),
        test_module(header, visible + [h for h in hidden if h not in visible], "HiddenChecks"),
    )


def eq(call: str, expected: object) -> str:
    return f"self.assertEqual({call}, {expected!r})"
