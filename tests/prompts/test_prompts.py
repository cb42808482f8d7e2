from __future__ import annotations

import jinja2
import pytest

from clade import prompts


def test_every_template_renders_only_with_all_its_variables():
    assert {"diagnose", "self_improve"} <= set(prompts.names())
    text = prompts.render(
        "self_improve",
        problem_statement="Retry on timeouts.",
        implementation_plan="1. edit",
        prompt_files=[("coder/prompts/system.md", "Be careful.")],
    )
    assert "Retry on timeouts." in text and "coder/prompts/system.md" in text
    with pytest.raises(jinja2.UndefinedError):
        prompts.render("self_improve", problem_statement="x")
