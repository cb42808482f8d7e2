"""Templates whose bug is in control flow: an off-by-one, a wrong comparison, a missing
edge case, arguments passed in the wrong order."""

from __future__ import annotations

from random import Random

from ._common import Repo, eq, package_name, pick, tests


def pagination(rng: Random) -> Repo:
    """Pages are numbered from 1, but the start index is computed as if from 0."""
    pkg, size = package_name(rng), rng.randint(3, 9)
    func, noun = pick(rng, "page", "get_page", "page_of"), pick(rng, "entries", "rows", "records")
    module = f'''"""Split a list of {noun} into pages for display."""

PAGE_SIZE = {size}


def {func}(items, number, size=PAGE_SIZE):
    """Page ``number`` of ``items``; pages are numbered from 1, past the last page is []."""
    if number < 1:
        raise ValueError("pages are numbered from 1")
    start = number * size
    return items[start:start + size]


def page_count(items, size=PAGE_SIZE):
    """How many pages ``items`` fill."""
    return (len(items) + size - 1) // size
'''
    n = rng.randint(2 * size + 1, 4 * size - 1)
    items = list(range(100, 100 + n))
    last = (n + size - 1) // size

    def want(number: int, s: int = size) -> list[int]:
        return items[(number - 1) * s : number * s]

    header = f"from {pkg}.pages import {func}, page_count\n\nITEMS = list(range(100, {100 + n}))"
    visible, hidden = tests(
        header,
        [eq(f"{func}(ITEMS, 1)", want(1))],
        [
            eq(f"{func}(ITEMS, 2)", want(2)),
            eq(f"{func}(ITEMS, {last})", want(last)),
            eq(f"{func}(ITEMS, {last + 1})", []),
            eq(f"{func}(ITEMS, 1, size=2)", want(1, 2)),
            eq(f"[x for p in range(1, page_count(ITEMS) + 1) for x in {func}(ITEMS, p)]", items),
            f"with self.assertRaises(ValueError):\n    {func}(ITEMS, 0)",
        ],
    )
    issue = f"`{func}(items, 1)` does not start with the first of the {noun}: the first {size} never show up.\n"
    fix = {f"{pkg}/pages.py": [("start = number * size", "start = (number - 1) * size")]}
    return Repo(pkg, {f"{pkg}/pages.py": module}, fix, issue, visible, hidden)


def validator(rng: Random) -> Repo:
    """A range check written with ``<`` where the documented bound is inclusive."""
    pkg = package_name(rng)
    what = pick(rng, "age", "quantity", "rating", "level", "priority")
    lo, hi = rng.randint(0, 5), rng.randint(20, 99)
    lower_bug = rng.random() < 0.5
    check = "MIN_VALUE < value <= MAX_VALUE" if lower_bug else "MIN_VALUE <= value < MAX_VALUE"
    module = f'''"""Validation of a form's {what} field."""

MIN_VALUE = {lo}
MAX_VALUE = {hi}


def is_valid_{what}(value):
    """True when ``value`` is an int from MIN_VALUE to MAX_VALUE, both included."""
    if not isinstance(value, int) or isinstance(value, bool):
        return False
    return {check}
'''
    forms = f'''"""Check a whole form."""

from .rules import is_valid_{what}


def form_errors(form):
    """The problems of ``form`` (a dict), as a list of messages; [] when it is fine."""
    if "{what}" not in form:
        return ["{what} is missing"]
    if not is_valid_{what}(form["{what}"]):
        return ["{what} is out of range"]
    return []
'''
    edge = lo if lower_bug else hi
    header = f"from {pkg}.rules import is_valid_{what}\nfrom {pkg}.forms import form_errors"
    visible, hidden = tests(
        header,
        [eq(f"is_valid_{what}({edge})", True)],
        [
            eq(f"is_valid_{what}({lo})", True),
            eq(f"is_valid_{what}({hi})", True),
            eq(f"is_valid_{what}({(lo + hi) // 2})", True),
            eq(f"is_valid_{what}({lo - 1})", False),
            eq(f"is_valid_{what}({hi + 1})", False),
            eq(f"is_valid_{what}(True)", False),
            eq(f"form_errors({{'{what}': {edge}}})", []),
            eq(f"form_errors({{'{what}': {hi + 1}}})", [f"{what} is out of range"]),
        ],
    )
    issue = f"A form with {what} {edge} is rejected as out of range, but {lo} to {hi} are allowed (both included).\n"
    fixed = "MIN_VALUE <= value <= MAX_VALUE"
    fix = {f"{pkg}/rules.py": [(check, fixed)]}
    modules = {f"{pkg}/rules.py": module, f"{pkg}/forms.py": forms}
    return Repo(pkg, modules, fix, issue, visible, hidden)


def parser(rng: Random) -> Repo:
    """A ``key=value`` list parser that crashes on empty pieces (a trailing separator)."""
    pkg, sep = package_name(rng), pick(rng, ";", ",", "&", "|")
    func = pick(rng, "parse_pairs", "parse_options", "parse_settings")
    module = f'''"""Parse option strings such as ``a=1{sep}b=2``."""

SEPARATOR = "{sep}"


def {func}(text):
    """``key=value`` pieces separated by SEPARATOR, as a dict of strings.

    Blanks around keys and values are dropped; empty pieces (an empty string, a trailing
    or doubled SEPARATOR) are ignored; a value may itself contain "=".
    """
    result = {{}}
    for piece in text.split(SEPARATOR):
        key, value = piece.split("=", 1)
        result[key.strip()] = value.strip()
    return result
'''
    keys = rng.sample(["mode", "color", "size", "user", "depth", "lang", "unit", "zone"], 3)
    vals = [str(rng.randint(1, 99)) for _ in keys]
    text = sep.join(f"{k}={v}" for k, v in zip(keys, vals, strict=True))
    full = dict(zip(keys, vals, strict=True))
    header = f"from {pkg}.options import {func}"
    visible, hidden = tests(
        header,
        [eq(f"{func}({text + sep!r})", full)],
        [
            eq(f"{func}({text!r})", full),
            eq(f"{func}('')", {}),
            eq(f"{func}({f' {keys[0]} = {vals[0]} {sep}{sep}{keys[1]}={vals[1]}'!r})", {keys[0]: vals[0], keys[1]: vals[1]}),
            eq(f"{func}({f'{keys[2]}=a=b'!r})", {keys[2]: "a=b"}),
            eq(f"{func}({sep + text!r})", full),
        ],
    )  # fmt: skip
    issue = f"`{func}({text + sep!r})` raises ValueError: a trailing separator should just be ignored.\n"
    old = "        key, value = piece.split"
    fix = {
        f"{pkg}/options.py": [(old, "        if not piece.strip():\n            continue\n" + old)]
    }
    return Repo(pkg, {f"{pkg}/options.py": module}, fix, issue, visible, hidden)


def swapped_args(rng: Random) -> Repo:
    """A helper called with its two arguments in the wrong order, across modules."""
    pkg, digits = package_name(rng), rng.randint(0, 2)
    label = pick(rng, "progress_line", "status_line", "completion_text")
    module = '''"""Small numeric helpers."""


def percent(part, whole):
    """``part`` as a percentage of ``whole``; 0.0 when ``whole`` is 0."""
    if whole == 0:
        return 0.0
    return 100.0 * part / whole
'''
    report = f'''"""Human-readable progress lines."""

from .numbers import percent


def {label}(name, done, total):
    """For example ``build: 25.0%`` when 1 of 4 steps is done."""
    return f"{{name}}: {{percent(total, done):.{digits}f}}%"
'''
    done, total = rng.randint(1, 9), rng.randint(10, 40)

    def want(name: str, d: int, t: int) -> str:
        return f"{name}: {100.0 * d / t if t else 0.0:.{digits}f}%"

    header = f"from {pkg}.report import {label}\nfrom {pkg}.numbers import percent"
    visible, hidden = tests(
        header,
        [eq(f"{label}('build', {done}, {total})", want("build", done, total))],
        [
            eq(f"{label}('sync', {total}, {total})", want("sync", total, total)),
            eq(f"{label}('test', 0, {total})", want("test", 0, total)),
            eq(f"{label}('idle', 0, 0)", want("idle", 0, 0)),
            eq(f"{label}('half', {total}, {2 * total})", want("half", total, 2 * total)),
            eq(f"percent({done}, {total})", 100.0 * done / total),
        ],
    )
    issue = f"`{label}('build', {done}, {total})` shows more than 100%: {want('build', total, done)!r}.\n"
    fix = {f"{pkg}/report.py": [("percent(total, done)", "percent(done, total)")]}
    modules = {f"{pkg}/numbers.py": module, f"{pkg}/report.py": report}
    return Repo(pkg, modules, fix, issue, visible, hidden)
