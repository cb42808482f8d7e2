"""The mutate role's parts: which templates it may rewrite and what a usable rewrite is."""

from __future__ import annotations

import json
from typing import get_args

import pytest

from clade.orchestrator.conductor.promptset import PromptSet
from clade.orchestrator.dgm.config import PromptField
from clade.orchestrator.promptsets.mutate import (
    VARIABLES,
    check_template,
    failure_of,
    parse_template,
    task_log,
    template_format,
)


def test_the_run_options_name_exactly_the_prompt_sets_fields():
    assert set(get_args(PromptField)) == set(PromptSet.model_fields) == set(VARIABLES)


@pytest.mark.parametrize("field", sorted(PromptSet.model_fields))
def test_every_shipped_template_passes_the_check(field):
    seed = PromptSet.default()
    assert check_template(seed, field, getattr(seed, field)) == seed


@pytest.mark.parametrize(
    ("field", "text", "error"),
    [("meta", "Take {{ minutes }} minutes.", "'minutes' is undefined"),
     ("meta", "{% if python %}unclosed", "TemplateSyntaxError"),
     ("feedback", "   ", "empty"),
     ("reminder", "{% if false %}x{% endif %}", "renders to nothing"),
     ("question", "Answer the question.", "must contain {{ question }}")],
)  # fmt: skip
def test_a_rewrite_that_cannot_be_used_is_refused(field, text, error):
    with pytest.raises(ValueError, match=error.replace("{", r"\{").replace("}", r"\}")):
        check_template(PromptSet.default(), field, text)


def test_a_usable_rewrite_replaces_only_its_field():
    seed = PromptSet.default()
    child = check_template(seed, "question", "Q: {{ question }}\nAnswer with the words only.")
    assert child.question.startswith("Q: ") and child.meta == seed.meta
    assert child.render("question", question="zu ka") == "Q: zu ka\nAnswer with the words only."


def test_the_template_is_read_from_the_first_object_that_has_one():
    reply = 'Sure. {"note": 1} then {"template": "New {{ question }}"} and more'
    assert parse_template(reply) == "New {{ question }}"
    with pytest.raises(ValueError, match="no JSON object"):
        parse_template('{"text": "x"}')
    schema = template_format(300)["json_schema"]["schema"]
    assert schema["properties"]["template"]["maxLength"] == 300
    assert schema["properties"]["template"]["minLength"] == 1
    longer = template_format(300, 130)["json_schema"]["schema"]["properties"]["template"]
    assert (longer["minLength"], longer["maxLength"]) == (130, 300)
    assert (
        template_format(100, 130)["json_schema"]["schema"]["properties"]["template"]["minLength"]
        == 100
    )
    assert json.loads(json.dumps(schema))["required"] == ["template"]


def test_a_failure_is_read_back_from_its_log():
    log = task_log("The answer is", "expected 'ka lo', got 'the answer is'", "[round 1]\n...")
    failure = failure_of("Sort: lo ka", log)
    assert (failure.answer, failure.feedback) == (
        "The answer is",
        "expected 'ka lo', got 'the answer is'",
    )
    assert failure_of("q", "").answer == "?"
