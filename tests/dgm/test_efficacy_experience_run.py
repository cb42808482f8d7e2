"""The experience mutation in a whole run: real Docker sandboxes, the real seed agent and
gateway, a scripted model.

The scripted model sorts a task's words only when it can: on tasks with an odd number of
words (the seed solves some), or when the chat before the task holds a worked example of
word sorting, which only the agent's ``coder/experience.jsonl`` can put there. So a child
that gains the seed's solved dev task as a worked example solves every task, and that
shows the agent's prompt really uses it. Then the held-out scoring runs on the test split.
"""

from __future__ import annotations

import json
import threading

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SORT = (
    "<bash>python3 -c \"w=open('../task.md').read().split(': ',1)[1].split(chr(10))[0].split();"
    "open('answer.txt','w').write(' '.join(sorted(w)))\"</bash>"
)
TASK_KIND = "Sort these words alphabetically"
SEEN: list[dict] = []
_LOCK = threading.Lock()


def reply(messages: list[dict]) -> str:
    last = str(messages[-1].get("content", ""))
    if last.startswith("Result:"):
        return "<finish>done</finish>"
    if TASK_KIND not in last:
        return "<finish>I cannot do this</finish>"
    words = last.split(": ", 1)[1].split("\n")[0].split()
    examples = [
        str(m["content"])
        for m in messages[1:-1]
        if m["role"] == "user" and TASK_KIND in m["content"]
    ]
    with _LOCK:
        SEEN.append({"task": last, "examples": examples})
    if examples or len(words) % 2 == 1:
        return SORT
    return "<finish>I cannot sort these</finish>"


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CLADE_HOME", str(tmp_path / ".clade"))
    from clade.orchestrator.config import settings
    from clade.orchestrator.models.scripted import register_script

    settings.cache_clear()
    register_script("efficacy-experience", reply)
    SEEN.clear()
    yield
    settings.cache_clear()


def test_a_child_learns_from_the_seeds_solved_dev_task_and_uses_it(env):
    from clade.orchestrator.dgm.config import RunConfig
    from clade.orchestrator.dgm.experience import EXPERIENCE_FILE, read_examples
    from clade.orchestrator.dgm.heldout import best_candidate, score_on_split
    from clade.orchestrator.dgm.launch import execute, real_steps
    from clade.orchestrator.evaluators.generated import WordSorting
    from clade.orchestrator.home import open_archive

    config = RunConfig.model_validate(
        {
            "models": {"default": {"model": "scripted/efficacy-experience"}},
            "evaluation": {"evaluator": "word-sorting", "options": {"n": 12},
                           "stages": [{"tasks": 4}]},
            "selection": {"policy": "best", "children_per_generation": 1, "score": "lower_bound"},
            "experience": {"children": 1},
            "agent_limits": {"max_steps": 3, "max_seconds": 60, "command_timeout": 20},
            "sandbox": {"memory_mb": 512, "cpus": 1.0},
            "budget": {"generations": 1},
            "parallelism": 2,
        }
    )  # fmt: skip
    words = WordSorting(n=12)
    dev = words.tasks("dev")[:4]
    odd = [t for t in dev if len(t.statement.split(": ", 1)[1].split("\n")[0].split()) % 2]
    assert len(odd) == 1  # the seed solves exactly one of the four staged tasks
    archive = open_archive()
    run_id = archive.create_run(name="experience", config=config.model_dump(mode="json")).id
    execute(archive, config, run_id, resume=False, emit=lambda event: None)

    seed, child = archive.list_candidates(run_id)
    assert seed.score == 0.25 and child.score == 1.0
    record = archive.get_candidate(child.id)
    assert (record.status, record.meta["mutation"]) == ("admitted", "experience")
    assert record.meta["examples"] == [odd[0].id]
    # The diff shows the worked example: the solved dev task and the agent's own replies.
    diff = archive.diff(seed.id, child.id)
    added = [json.loads(line[1:]) for line in diff.splitlines() if line.startswith("+{")]
    assert EXPERIENCE_FILE in diff and [e["task"] for e in added] == [odd[0].statement]
    assert "python3 -c" in added[0]["turns"][0]["assistant"]
    assert read_examples(archive.blobs.files(child.tree_hash))[0].task == odd[0].statement
    # The agent put it in its chat: the model saw it before each task of the child.
    with_example = [s for s in SEEN if s["examples"]]
    assert len(with_example) == 4
    assert all(odd[0].statement.split("\n")[0] in s["examples"][0] for s in with_example)

    # Held-out scoring: the test split, the same tasks for both, never a dev row.
    test = words.tasks("test")[:3]
    best = best_candidate(archive, run_id, config, words)
    assert best == child.id
    steps = real_steps(archive, run_id, config, words)
    seed_scores = score_on_split(archive, steps, words, archive.get_candidate(seed.id), test)
    best_scores = score_on_split(archive, steps, words, archive.get_candidate(best), test)
    odd_test = [len(t.statement.split(": ", 1)[1].split("\n")[0].split()) % 2 for t in test]
    assert seed_scores == [float(o) for o in odd_test] and best_scores == [1.0, 1.0, 1.0]
    assert {r.task_id for r in archive.attempt_rows(run_id, "word-sorting", "dev")} == {
        t.id for t in dev
    }
    examples = read_examples(archive.blobs.files(child.tree_hash))
    assert {e.task for e in examples} <= {t.statement for t in words.tasks("dev")}
