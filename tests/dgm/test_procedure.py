"""The editable improvement procedure read from a tree's meta/: defaults, fallbacks with
their reasons, the sandboxed render, and the choice of failures (dgm/procedure.py)."""

from __future__ import annotations

import json

import jinja2
import pytest

from clade import prompts
from clade.orchestrator.dgm import procedure as P
from clade.orchestrator.dgm.sampling import pick
from clade.orchestrator.evaluators.base import Score, Task

DIAG_VARS = {
    "files": [("coder/loop.py", "print('hi')\n")],
    "task": "Sort: b a",
    "trajectory": "gave up",
    "result": "wrong",
    "experience": False,
    "more_failures": [],
}


def _with(**changes: bytes | None) -> dict[str, bytes]:
    files = {"coder/loop.py": b"x = 1\n", **P.default_files()}
    for name, data in changes.items():
        path = {"diagnose": P.DIAGNOSE, "improve": P.SELF_IMPROVE, "choose": P.CHOOSE}[name]
        if data is None:
            files.pop(path)
        else:
            files[path] = data
    return files


def test_the_shipped_procedure_loads_as_the_default_and_renders_like_the_prompts():
    own = P.load_procedure(_with())
    assert own.fallbacks == {} and own.choice == P.FailureChoice()
    assert own.diagnose == prompts.source("diagnose")
    assert P.render(own, P.DIAGNOSE, DIAG_VARS) == prompts.render("diagnose", **DIAG_VARS)
    # The same text through the sandboxed renderer gives the same bytes.
    [(outcome, text)] = P.run_renderer([(prompts.source("diagnose"), DIAG_VARS)])
    assert outcome == "ok" and text == prompts.render("diagnose", **DIAG_VARS)
    assert own.record() == {"hash": P.digest(_with()), "fallbacks": {}}


def test_the_diagnose_template_without_more_failures_is_the_one_before_the_option():
    """Option off: the prompt is byte for byte what the template said before meta/ existed
    (the old text, kept here, rendered with the old variables)."""
    old = prompts.source("diagnose").replace(
        "{% for more in more_failures %}\n# Another failed task\n{{ more.task }}\n\n"
        "# What it did there (last steps)\n{{ more.trajectory }}\n\n# Its result\n"
        "{{ more.result }}\n{% endfor %}\n",
        "\n",
    )
    assert old != prompts.source("diagnose")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    for experience in (False, True):
        variables = {**DIAG_VARS, "experience": experience}
        before = env.from_string(old).render(
            **{k: v for k, v in variables.items() if k != "more_failures"}
        )
        assert before == prompts.render("diagnose", **variables)


def test_a_child_edited_template_is_rendered_in_the_sandbox_and_changes_the_hash():
    edited = _with(diagnose=b"Look at {{ task }} ({{ files | length }} files); {{ result }}\n")
    own = P.load_procedure(edited)
    assert own.fallbacks == {} and own.digest != P.digest(_with())
    assert P.render(own, P.DIAGNOSE, DIAG_VARS) == "Look at Sort: b a (1 files); wrong\n"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"diagnose": None}, "missing"),
        ({"diagnose": b"{% for x in %}"}, "a trial render failed: TemplateSyntaxError"),
        ({"diagnose": b"{{ nowhere }}"}, "a trial render failed: UndefinedError"),
        ({"diagnose": b"\xff\xfe bad"}, "not UTF-8"),
        ({"improve": b"x" * (P.MAX_FILE_BYTES + 1)}, "over the 16384 a meta file may hold"),
        ({"choose": b"{not json"}, "invalid"),
        ({"choose": b'{"order": "smartest"}'}, "invalid: order"),
        ({"choose": b'{"show": 9}'}, "invalid: show"),
        ({"choose": b'{"run": "rm -rf /"}'}, "invalid: run: Extra inputs"),
    ],
)
def test_an_invalid_meta_file_falls_back_to_the_default_with_its_reason(change, reason):
    own = P.load_procedure(_with(**change))
    [(path, why)] = own.fallbacks.items()
    assert reason in why
    assert own.record()["fallbacks"] == {path: why}
    # What is used instead is the shipped default, whatever the broken file said.
    shipped = P.load_procedure(_with())
    assert (own.diagnose, own.self_improve, own.choice) == (
        shipped.diagnose, shipped.self_improve, shipped.choice,
    )  # fmt: skip


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ lipsum.__globals__['os'].system('touch /tmp/pwned') }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ task|attr('__class__') }}",
        "{% include '/etc/passwd' %}",
        "{% import 'os' as os %}",
    ],
)
def test_a_template_that_tries_to_escape_is_refused(template, tmp_path):
    own = P.load_procedure(_with(diagnose=template.encode()))
    assert "a trial render failed" in own.fallbacks[P.DIAGNOSE]
    assert own.diagnose == prompts.source("diagnose")


def test_huge_output_and_endless_work_are_cut_off():
    [(outcome, why)] = P.run_renderer([("{{ task | center(10000000) }}", DIAG_VARS)])
    assert outcome == "error" and "passes" in why
    [(outcome, why)] = P.run_renderer([("{{ 'a' * 10**10 }}", DIAG_VARS)])
    assert outcome == "error" and "memory" in why
    spin = "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"
    own = P.load_procedure(_with(improve=spin.encode()))
    assert (
        "CPU time" in own.fallbacks[P.SELF_IMPROVE] or "took over" in own.fallbacks[P.SELF_IMPROVE]
    )


def test_a_render_that_breaks_on_real_variables_falls_back_to_the_shipped_prompt():
    # Passes the trial render (a sample has a file), breaks on a parent with no file.
    fragile = b"{{ files[0][0] }} {{ task }}"
    own = P.load_procedure(_with(diagnose=fragile))
    assert own.fallbacks == {}
    assert P.render(own, P.DIAGNOSE, {**DIAG_VARS, "files": []}) == prompts.render(
        "diagnose", **{**DIAG_VARS, "files": []}
    )


FAILURES = [
    (Task(id=f"t{i}", statement=f"task {i}"), Score(score=s, passed=False), "x" * n)
    for i, (s, n) in enumerate([(0.5, 10), (0.0, 30), (0.2, 20), (0.9, 5)])
]


def _choose(choice: dict, key: str) -> list[str]:
    return [
        t.id
        for t, _, _ in P.choose(
            FAILURES,
            P.FailureChoice.model_validate(choice),
            run_seed=3,
            parent_id="p",
            key=key,
            score=lambda f: (f[1].score, f[0].id),
            log_of=lambda f: f[2],
        )
    ]


def test_the_default_choice_is_the_seeded_pick_of_one_failure():
    for key in ("g1c0", "g1c1", "g2c0"):
        assert _choose({}, key) == [pick(FAILURES, 3, "p", key)[0].id]


def test_orders_and_counts_of_the_choice():
    assert _choose({"order": "lowest_score", "show": 3}, "g1c0") == ["t1", "t2", "t0"]
    assert _choose({"order": "lowest_score"}, "g1c1") == ["t2"]  # a sibling starts further on
    assert _choose({"order": "longest_log", "show": 2}, "g1c0") == ["t1", "t2"]
    assert _choose({"order": "task_order", "show": 3}, "g1c3") == ["t3", "t0", "t1"]
    seeded = _choose({"show": 2}, "g1c0")
    assert len(set(seeded)) == 2 and seeded[0] == _choose({}, "g1c0")[0]


def test_the_default_choice_file_is_valid_json_of_the_schema():
    data = json.loads(P.default_files()[P.CHOOSE])
    assert P.FailureChoice.model_validate(data) == P.FailureChoice()


def test_the_run_option_is_off_by_default_and_validated():
    from pathlib import Path

    from clade.archive.errors import ConfigError
    from clade.orchestrator.dgm.config import RunConfig, load_config

    assert RunConfig().improvement.editable is False
    example = Path(__file__).resolve().parents[2] / "examples" / "run.yaml"
    assert load_config(example, ["improvement.editable=true"]).improvement.editable is True
    with pytest.raises(ConfigError, match=r"improvement\.editble"):
        load_config(None, ["improvement.editble=true"])
