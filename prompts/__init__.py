"""Every prompt Clade sends, as a Jinja2 template in this folder.

``render("diagnose", parent_code=..., ...)`` renders ``diagnose.j2`` with ``StrictUndefined``:
a variable the caller forgot is an error, never a silent blank.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any


@cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_source),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # prompts are plain text, not HTML
    )


def _source(name: str) -> str:
    return resources.files(__package__).joinpath(f"{name}.j2").read_text(encoding="utf-8")


def source(name: str) -> str:
    """The text of template ``name`` as shipped (``prompts/<name>.j2``)."""
    return _source(name)


def names() -> list[str]:
    """The templates shipped in this folder, without their ``.j2`` suffix."""
    return sorted(
        p.name[:-3] for p in resources.files(__package__).iterdir() if p.name.endswith(".j2")
    )


def render(name: str, **variables: Any) -> str:
    """Render template ``name`` (``prompts/<name>.j2``) with ``variables``."""
    return str(_environment().get_template(name).render(**variables))
