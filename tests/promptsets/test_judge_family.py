"""Prompt-set runs of the judge family: a judge's meta-prompt M evolves, scored on gold pairs.

A real archive, checkpointer, DGM graph, gold set and frozen LWE judge path; only the models
are scripted. The scripted judge follows the position (``[[A]]``, agreement 0.5) unless the
rubric it was given says ``CHECK THE EXAMPLES``: then it picks the right answer (an oracle
built from the gold file, standing for a skill). Its rubric call writes that line when M
holds it, or when M lists the question as ``KNOWN <key>`` (a memorised question). A mutation
that adds the line to M is admitted on validation; one that memorises the failed questions it
was shown does better on dev and is rejected on validation; a neutral one is rejected.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import uuid
from typing import Any

import pytest

from clade.orchestrator.dgm.config import RunConfig
from clade.orchestrator.dgm.graph import DGMRun, build_graph
from clade.orchestrator.evaluators.registry import load_evaluator
from clade.orchestrator.judges.gold import load_gold
from clade.orchestrator.promptsets import JudgePromptSteps, meta_prompt_of

from .conftest import PROPOSAL, _shown_template

SKILL = "CHECK THE EXAMPLES"


def _between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0].strip()


def known(question: str) -> str:
    return "KNOWN " + hashlib.sha256(question.strip().encode()).hexdigest()[:10]


def _oracle() -> dict[tuple[str, str, str], str]:
    labels = {}
    for pair in load_gold():
        q, a, b = pair.question.strip(), pair.answer_a.strip(), pair.answer_b.strip()
        labels[(q, a, b)] = pair.label
        labels[(q, b, a)] = "B" if pair.label == "A" else "A"
    return labels


def scripted_judge(prompts: list[str]):
    labels = _oracle()

    def reply(messages: list[dict[str, Any]]) -> str:
        prompt = str(messages[-1]["content"])
        prompts.append(prompt)
        if prompt.rstrip().endswith("(criteria and steps only):"):  # M writes the rubric
            meta = prompt.split("\n\n[Task]", 1)[0]
            question = _between(prompt, "[Task]\n", "\n\nEvaluation instructions")
            skilled = SKILL in meta or known(question) in meta
            return "1. Read what the question asks.\n" + (
                f"2. {SKILL} one by one.\n" if skilled else ""
            )
        if "Which answer is better?" not in prompt:  # clade judge's self-feedback or update of M
            return json.dumps({"score": 4, "confidence": 0.5, "tips": ["Check edge cases."]})
        rubric = _between(prompt, "Evaluation instructions:\n", "\n\nQuestion:\n")
        if SKILL not in rubric:
            return "[[A]] it comes first"
        q = _between(prompt, "\n\nQuestion:\n", "\n\nAnswer A:\n")
        a = _between(prompt, "\n\nAnswer A:\n", "\n\nAnswer B:\n")
        b = _between(prompt, "\n\nAnswer B:\n", "\n\nWhich answer is better?")
        return f"[[{labels[(q, a, b)]}]] it passes the examples"

    return reply


def scripted_mutate(how: str, prompts: list[str]):
    def reply(messages: list[dict[str, Any]]) -> str:
        prompt = str(messages[0]["content"])
        prompts.append(prompt)
        if '"template"' not in prompt:
            return json.dumps(PROPOSAL)
        old = _shown_template(prompt)
        if how == "good":
            added = f"- {SKILL} given in the question and run each answer on them."
        elif how == "memorise":  # the questions it was shown, copied into M
            shown = re.findall(r"^Question: (.*?)\nAnswer given:", prompt, re.MULTILINE | re.DOTALL)
            added = "\n".join(known(_between(s, "Question:\n", "\n\nAnswer A:\n")) for s in shown)
        else:
            added = "- Be careful."
        return json.dumps({"template": f"{old}\n{added}"})

    return reply


@pytest.fixture
def archive(clade_home):
    from clade.orchestrator.home import open_archive

    with open_archive() as opened:
        yield opened


@pytest.fixture
def saver(tmp_path):
    from langgraph.checkpoint.sqlite import SqliteSaver

    connection = sqlite3.connect(tmp_path / "checkpoints.db", check_same_thread=False)
    yield SqliteSaver(connection)
    connection.close()


def config_of(how: str, judge_prompts: list[str], mutate_prompts: list[str]) -> RunConfig:
    from clade.orchestrator.models.scripted import register_script

    tag = uuid.uuid4().hex[:8]
    return RunConfig.model_validate(
        {
            "kind": "prompt_set",
            "models": {
                "default": register_script(f"judge-{tag}", scripted_judge(judge_prompts)),
                "roles": {"mutate": {"model": register_script(
                    f"mutate-{tag}", scripted_mutate(how, mutate_prompts)), "max_tokens": 4096}},
                "retry": {"max_retries": 0},
            },
            "evaluation": {"evaluator": "judge-gold", "stages": [{"tasks": 4}]},
            "selection": {"policy": "best", "children_per_generation": 1, "admit": "validation",
                          "validation_tasks": 10},
            "prompt_set": {"family": "judge", "failures": 3},
            "budget": {"generations": 1},
            "parallelism": 1,
        }
    )  # fmt: skip


def run(archive, saver, config: RunConfig) -> str:
    from clade.orchestrator.models.layer import ModelLayer
    from clade.orchestrator.models.metering import ArchiveSink

    run_id = archive.create_run(name="judge", config=config.model_dump(mode="json")).id
    evaluator = load_evaluator("judge-gold")
    layer = ModelLayer(config.models, sink=ArchiveSink(archive), run_id=run_id)
    steps = JudgePromptSteps(archive, run_id, evaluator, layer, config.prompt_set)
    dgm = DGMRun(archive, config, evaluator, steps, emit=lambda event: None)
    graph = build_graph(dgm, saver)
    graph.invoke(
        {"run_id": run_id},
        {"configurable": {"thread_id": run_id}, "max_concurrency": 1},
        durability="sync",
    )
    return run_id


def scores(archive, run_id: str, candidate_id: str, split: str) -> list[float]:
    rows = archive.attempt_rows(run_id, "judge-gold", split)
    return [r.score for r in rows if r.candidate_id == candidate_id]


def test_a_meta_prompt_that_generalises_is_admitted_on_validation(archive, saver):
    judge_prompts: list[str] = []
    mutate_prompts: list[str] = []
    run_id = run(archive, saver, config_of("good", judge_prompts, mutate_prompts))
    seed, child = archive.list_candidates(run_id)
    assert (seed.kind, child.kind) == ("prompt_set", "prompt_set")
    assert child.status == "admitted", child.meta
    # The seed follows the position: one verdict of two is right on every pair (agreement 0.5).
    assert scores(archive, run_id, seed.id, "dev") == [0.5] * 4
    assert scores(archive, run_id, seed.id, "val") == [0.5] * 10
    assert scores(archive, run_id, child.id, "val") == [1.0] * 10
    meta = meta_prompt_of(archive.blobs.files(child.tree_hash))
    assert meta.startswith(meta_prompt_of(archive.blobs.files(seed.tree_hash)).strip())
    assert SKILL in meta
    # The mutate role read misjudged dev pairs: the verdicts, which answer was right, the rubric.
    proposal = mutate_prompts[0]
    assert "as shown;" in proposal and "is right (1 of 2 verdicts said so)" in proposal
    assert "rubric M wrote" not in proposal or "Read what the question asks" in proposal
    assert "Jinja2" not in proposal and "judge" in proposal
    # No label ever reaches the judge, and no held-out question reaches the mutate role.
    assert judge_prompts and not any("verdicts said so" in p for p in judge_prompts)
    evaluator = load_evaluator("judge-gold")
    dev = {evaluator.pair(t.id).question.strip() for t in evaluator.tasks("dev")}
    held_out = {evaluator.pair(t.id).question.strip() for t in evaluator.tasks("test")} - dev
    assert held_out and not any(q in p for q in held_out for p in mutate_prompts)


@pytest.mark.parametrize("admit", ["validation", "score"])
def test_a_meta_prompt_that_memorises_its_failures_is_rejected_on_validation(archive, saver, admit):
    config = config_of("memorise", [], [])
    config = config.model_copy(
        update={"selection": config.selection.model_copy(update={"admit": admit})}
    )
    run_id = run(archive, saver, config)
    seed, child = archive.list_candidates(run_id)
    # Better on the dev pairs it was shown, so only validation can stop it.
    assert sum(scores(archive, run_id, child.id, "dev")) > sum(
        scores(archive, run_id, seed.id, "dev")
    )
    if admit == "score":
        assert child.status == "admitted" and scores(archive, run_id, child.id, "val") == []
        return
    assert child.status == "rejected"
    why = archive.get_candidate(child.id).rejection_reason or ""
    assert why.startswith("validation gain"), why
    assert scores(archive, run_id, child.id, "val") == [0.5] * 10  # no val question memorised


def test_a_neutral_meta_prompt_is_rejected(archive, saver):
    run_id = run(archive, saver, config_of("neutral", [], []))
    _seed, child = archive.list_candidates(run_id)
    assert child.status == "rejected"
    assert scores(archive, run_id, child.id, "dev") == [0.5] * 4


def test_the_gold_evaluator_splits_by_question_and_scores_a_letter():
    evaluator = load_evaluator("judge-gold")
    dev, test = evaluator.tasks("dev"), evaluator.tasks("test")
    assert len(dev) + len(test) == len(load_gold()) and dev and test
    question = {t.id: evaluator.pair(t.id).question for t in dev + test}
    assert not {question[t.id] for t in dev} & {question[t.id] for t in test}
    task = dev[0]
    label = evaluator.pair(task.id).label
    other = "B" if label == "A" else "A"
    assert "answer.txt" in task.statement and label not in ("", None)
    assert evaluator.score(task, {"answer.txt": f"{label}\n"}, None).passed
    wrong = evaluator.score(task, {"answer.txt": other}, None)
    assert not wrong.passed and wrong.score == 0.0
    assert "expected A or B" in evaluator.score(task, {"answer.txt": "both"}, None).detail
    assert not evaluator.score(task, {}, None).passed
    only = load_evaluator("judge-gold", sources=["word-sorting"])
    assert {only.pair(t.id).source for t in only.tasks("dev") + only.tasks("test")} == {
        "word-sorting"
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [(["evaluation.evaluator=word-sorting"], "evaluator word-sorting has none"),
     (["prompt_set.rounds=5"], "prompt_set.rounds: a conductor option"),
     (["prompt_set.rounds=3"], "prompt_set.rounds: a conductor option"),  # its default
     (["prompt_set.family=conductor", "prompt_set.judge_method=selective"],
      "prompt_set.judge_method: an option of the judge family")],
)  # fmt: skip
def test_a_judge_family_run_with_options_that_do_not_fit_is_one_line(
    clade_home, overrides, message
):
    from typer.testing import CliRunner

    from clade.archive.errors import ConfigError
    from clade.orchestrator.cli import app

    args = ["run", "--set", "kind=prompt_set", "--set", "prompt_set.family=judge",
            "--set", "evaluation.evaluator=judge-gold", "--set", "experience.children=0"]  # fmt: skip
    for override in overrides:
        args += ["--set", override]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, ConfigError), result.output
    assert message in str(result.exception)
    assert "\n" not in str(result.exception)


def test_clade_judge_starts_from_an_evolved_meta_prompt(archive, saver, tmp_path):
    from typer.testing import CliRunner

    from clade.orchestrator.cli import app

    config = config_of("good", [], [])
    run_id = run(archive, saver, config)
    _seed, child = archive.list_candidates(run_id)
    rows = [p.pair().model_dump() for p in load_gold()[:3]]
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    model = config.models.default.model
    result = CliRunner().invoke(
        app, ["judge", str(pairs), "--method", "lwe", "--model", model,
              "--meta-prompt", child.id[:10]],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    verdicts = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    # M from the candidate says CHECK THE EXAMPLES, so the scripted judge is right both ways.
    assert [(v["verdict"], v["verdict_swapped"]) for v in verdicts] == [
        (r["label"], r["label"]) for r in rows
    ]
    (judged,) = [r for r in archive.list_runs() if r.kind == "judge"]
    assert SKILL in archive.get_run(judged.id).config["meta_prompt"]
    refused = CliRunner().invoke(app, ["judge", str(pairs), "--method", "vanilla",
                                       "--meta-prompt", child.id])  # fmt: skip
    assert refused.exit_code != 0 and "--meta-prompt" in str(refused.exception)
