"""Templates whose bug is in how data is built or shown: a shared mutable default, a
truncation where rounding was meant, a format without padding, a merge in the wrong order."""

from __future__ import annotations

from random import Random

from ._common import Repo, eq, package_name, pick, tests


def mutable_default(rng: Random) -> Repo:
    """A class whose ``items=[]`` default is shared by every instance."""
    pkg = package_name(rng)
    cls, noun = pick(rng, "Basket", "Playlist", "Queue", "Bundle"), pick(rng, "item", "entry")
    module = f'''"""A {cls.lower()} of {noun}s."""


class {cls}:
    """An owner's {noun}s. A new {cls} starts empty unless given a list, which it copies
    (the caller's list is never changed)."""

    def __init__(self, owner, {noun}s=[]):
        self.owner = owner
        self.{noun}s = {noun}s

    def add(self, {noun}):
        self.{noun}s.append({noun})
        return self

    def count(self):
        return len(self.{noun}s)
'''
    a, b = rng.sample(["ann", "bo", "cy", "dee", "eli", "fay"], 2)
    things = rng.sample(["pen", "cup", "map", "key", "jar", "box"], 3)
    header = f"from {pkg}.{cls.lower()} import {cls}"
    visible, hidden = tests(
        header,
        [f"{cls}({a!r}).add({things[0]!r})\n" + eq(f"{cls}({b!r}).count()", 0)],
        [
            eq(f"{cls}({a!r}).add({things[0]!r}).add({things[1]!r}).{noun}s", things[:2]),
            f"given = [{things[2]!r}]\n{cls}({a!r}, given).add({things[0]!r})\n" + eq("given", [things[2]]),
            eq(f"{cls}({b!r}, [{things[2]!r}]).add({things[1]!r}).count()", 2),
            f"first = {cls}({a!r}).add({things[1]!r})\nsecond = {cls}({b!r})\n" + eq("(first.count(), second.count())", (1, 0)),
        ],
    )  # fmt: skip
    issue = f"After adding a {noun} to one {cls}, a brand-new {cls} for someone else already holds it.\n"
    path = f"{pkg}/{cls.lower()}.py"
    fix = {
        path: [
            (f"{noun}s=[]):", f"{noun}s=None):"),
            (f"self.{noun}s = {noun}s\n", f"self.{noun}s = list({noun}s) if {noun}s is not None else []\n"),
        ]
    }  # fmt: skip
    return Repo(pkg, {path: module}, fix, issue, visible, hidden)


def _truncates(amount: str) -> bool:
    return int(float(amount) * 100) != round(float(amount) * 100)


def rounding(rng: Random) -> Repo:
    """Decimal strings turned into cents by truncating a float instead of rounding it."""
    pkg = package_name(rng)
    func = pick(rng, "to_cents", "parse_price", "cents_of")
    module = f'''"""Money amounts as integer cents."""


def {func}(amount):
    """The amount (a string such as "19.99") in whole cents, e.g. 1999."""
    return int(float(amount) * 100)


def total(amounts):
    """The sum of several amounts, in cents."""
    return sum({func}(a) for a in amounts)


def as_text(cents):
    """1999 -> "19.99"."""
    return f"{{cents // 100}}.{{cents % 100:02d}}"
'''
    amounts = [f"{rng.randint(0, 60)}.{rng.randint(0, 99):02d}" for _ in range(400)]
    bad = [a for a in amounts if _truncates(a)][:4]
    good = [a for a in amounts if not _truncates(a)][:2]

    def cents(a: str) -> int:
        whole, frac = a.split(".")
        return int(whole) * 100 + int(frac)

    header = f"from {pkg}.money import {func}, total, as_text"
    visible, hidden = tests(
        header,
        [eq(f"{func}({bad[0]!r})", cents(bad[0]))],
        [eq(f"{func}({a!r})", cents(a)) for a in bad[1:] + good]
        + [
            eq(f"total({bad + good!r})", sum(map(cents, bad + good))),
            eq(f"as_text({func}({bad[1]!r}))", bad[1]),
        ],
    )
    issue = f"`{func}({bad[0]!r})` gives {int(float(bad[0]) * 100)}, one cent short of {cents(bad[0])}.\n"
    fix = {
        f"{pkg}/money.py": [
            ("return int(float(amount) * 100)", "return round(float(amount) * 100)")
        ]
    }
    return Repo(pkg, {f"{pkg}/money.py": module}, fix, issue, visible, hidden)


def formatting(rng: Random) -> Repo:
    """A clock format whose minutes and seconds lack their zero padding."""
    pkg = package_name(rng)
    func = pick(rng, "format_duration", "clock_text", "elapsed_label")
    module = f'''"""Durations shown as H:MM:SS."""


def {func}(seconds):
    """``seconds`` (an int >= 0) as hours:minutes:seconds, minutes and seconds on two
    digits: 3725 -> "1:02:05", 59 -> "0:00:59"."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{{hours}}:{{minutes}}:{{secs}}"
'''

    def want(s: int) -> str:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"

    short = 3600 * rng.randint(1, 9) + 60 * rng.randint(0, 9) + rng.randint(0, 9)
    cases = [short, rng.randint(0, 9), 60 * rng.randint(10, 59) + rng.randint(10, 59), 0, 86399]
    header = f"from {pkg}.clock import {func}"
    visible, hidden = tests(
        header,
        [eq(f"{func}({short})", want(short))],
        [eq(f"{func}({s})", want(s)) for s in cases[1:]] + [eq(f"{func}(36000)", "10:00:00")],
    )
    issue = f"`{func}({short})` shows {f'{short // 3600}:{short % 3600 // 60}:{short % 60}'!r} instead of {want(short)!r}.\n"
    fix = {f"{pkg}/clock.py": [("{minutes}:{secs}", "{minutes:02d}:{secs:02d}")]}
    return Repo(pkg, {f"{pkg}/clock.py": module}, fix, issue, visible, hidden)


def merge_precedence(rng: Random) -> Repo:
    """Settings merged so that the defaults override what the user chose."""
    pkg = package_name(rng)
    func = pick(rng, "effective_settings", "merged_config", "resolve_options")
    keys = rng.sample(["theme", "language", "timezone", "currency", "font", "layout"], 3)
    defaults = {k: f"{k}-{rng.randint(1, 9)}" for k in keys}
    module = f'''"""Settings: the user's choices over the defaults."""

DEFAULTS = {defaults!r}


def {func}(user, defaults=None):
    """The defaults (DEFAULTS unless given), with every setting the user chose taking
    precedence. Neither argument is changed."""
    base = DEFAULTS if defaults is None else defaults
    return {{**user, **base}}
'''
    choice = {keys[0]: "custom"}
    header = f"from {pkg}.settings import {func}, DEFAULTS"
    visible, hidden = tests(
        header,
        [eq(f"{func}({choice!r})[{keys[0]!r}]", "custom")],
        [
            eq(f"{func}({choice!r})", {**defaults, **choice}),
            eq(f"{func}({{}})", defaults),
            eq(f"{func}({{'extra': 1}}, {{'extra': 0, 'x': 2}})", {"extra": 1, "x": 2}),
            f"{func}({choice!r})\n" + eq("DEFAULTS", defaults),
        ],
    )
    issue = f"Choosing {keys[0]}='custom' has no effect: `{func}` still returns the default {defaults[keys[0]]!r}.\n"
    fix = {f"{pkg}/settings.py": [("{**user, **base}", "{**base, **user}")]}
    return Repo(pkg, {f"{pkg}/settings.py": module}, fix, issue, visible, hidden)
