"""Distinct children: siblings of one parent in one generation get different diagnosis
prompts and different sampling seeds, through the real graph and the real diagnosis step
(its prompt, its choice of failure, its sampling), with a scripted model; and the steps'
model calls and sandboxes carry the priorities and limits the run gives them."""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path

import pytest

from clade.archive.facade import Archive
from clade.orchestrator.dgm.config import RunConfig
from clade.orchestrator.dgm.graph import DGMRun
from clade.orchestrator.dgm.protocol import Modification
from clade.orchestrator.dgm.sampling import ChildSampling, RoleSampling, child_seed, params, pick
from clade.orchestrator.dgm.steps import MAKE_CHILD_PRIORITY, SandboxSteps
from clade.orchestrator.evaluators.base import Score
from clade.orchestrator.evaluators.generated import WordSorting
from clade.orchestrator.evaluators.runner import AgentLimits
from clade.orchestrator.models import Gateway, MemorySink, ModelLayer, ModelsConfig, register_script
from clade.orchestrator.models.scripted import script_calls
from clade.sandbox import SandboxConfig
from tests.inprocess_runs import archive_in, invoke, word_sorting_config

PROPOSAL = {
    "mutation": "edit",
    "what_failed": "it did not sort",
    "improvement": "sort the words",
    "implementation_plan": "say so in the system prompt",
    "problem_statement": "Edit coder/prompts/system.md to say: sort words with sorted().",
}


class NoSandboxSteps(SandboxSteps):
    """The real diagnosis; self-modification and evaluation without sandboxes (each child
    gets a tree of its own, nothing is solved), so the test needs no Docker."""

    def seed_tree(self) -> str:
        return self._tree("seed")

    def _tree(self, text: str) -> str:
        folder = Path(tempfile.mkdtemp(dir=self.tmp))
        (folder / "coder").mkdir()
        (folder / "coder" / "loop.py").write_text(f"# agent {text}\n")
        return self.archive.put_tree(folder)

    def self_modify(self, parent, proposal, key):
        return Modification(self._tree(key), "edited")

    def evaluate(self, candidate, tasks):
        return [(Score(score=0.0, passed=False), {"log": f"log of {t.id}"}) for t in tasks]


def test_two_children_of_one_parent_in_one_generation_get_different_prompts(tmp_path):
    prompts: list[str] = []

    def diagnosis(messages):
        prompts.append(messages[0]["content"])
        return json.dumps(PROPOSAL)

    name = f"children-{uuid.uuid4().hex[:6]}"
    model = register_script(name, diagnosis)
    archive = archive_in(tmp_path)
    config = word_sorting_config([{"tasks": 3}], generations=1, seed=7, models={"default": model})
    layer = ModelLayer(config.models, sink=MemorySink())
    evaluator = WordSorting(n=40)
    run = archive.create_run(name="t", config=config.model_dump(mode="json"))
    steps = NoSandboxSteps(
        archive, run.id, evaluator, Gateway(layer), None, SandboxConfig(image=""),  # type: ignore[arg-type]
        AgentLimits(), 1, run_seed=config.seed, sampling=config.sampling,
    )  # fmt: skip
    steps.tmp = tmp_path
    invoke(DGMRun(archive, config, evaluator, steps), run.id, tmp_path / "checkpoints.db")

    seed, *children = archive.list_candidates(run.id)
    assert [c.parent_id for c in children] == [seed.id, seed.id]  # one parent drawn twice
    assert len(prompts) == 2 and prompts[0] != prompts[1]
    shown = [next(t.id for t in evaluator.tasks("dev")[:3] if t.statement in p) for p in prompts]
    assert shown[0] != shown[1]  # each saw another of the seed's failed tasks
    calls = script_calls(name)[-2:]
    assert calls[0].seed != calls[1].seed and None not in {c.seed for c in calls}
    assert {c.temperature for c in calls} == {0.7}


def test_the_choice_of_failure_and_seed_is_stable_and_spreads_over_siblings():
    failures = ["a", "b", "c"]
    picked = [pick(failures, 0, "parent", f"g2c{i}") for i in range(3)]
    assert sorted(picked) == failures  # three siblings, three different failures
    assert picked == [pick(failures, 0, "parent", f"g2c{i}") for i in range(3)]  # replayable
    assert child_seed(0, "g1c0", "diagnose") != child_seed(0, "g1c1", "diagnose")
    assert child_seed(0, "g1c0", "diagnose") != child_seed(1, "g1c0", "diagnose")
    assert params(RoleSampling(temperature=0.2, seed=5), 0, "g1c0", "x") == {"temperature": 0.2, "seed": 5}  # fmt: skip
    assert params(RoleSampling(seed=None), 0, "g1c0", "x") == {}  # the role's own sampling
    defaults = ChildSampling()
    assert defaults.diagnose.seed == "auto" and (defaults.diagnose.temperature or 0) > 0
    assert RunConfig().sampling == defaults


def test_making_children_is_queued_before_evaluation_and_limits_follow_the_speed(tmp_path):
    served: list[dict] = []

    class Recording(Gateway):
        def serve_unix(self, path, **kwargs):
            served.append(kwargs)
            return super().serve_unix(path, **kwargs)

    name = f"prio-{uuid.uuid4().hex[:6]}"
    register_script(name, lambda m: json.dumps(PROPOSAL))
    layer = ModelLayer(ModelsConfig.model_validate({"default": f"scripted/{name}"}))
    archive = Archive(f"sqlite:///{tmp_path / 'clade.db'}", tmp_path / "blobs")
    run = archive.create_run(name="t", config={})
    steps = SandboxSteps(
        archive, run.id, WordSorting(n=10), Recording(layer), None, SandboxConfig(image=""),  # type: ignore[arg-type]
        AgentLimits(max_steps=3), 1,
    )  # fmt: skip
    with steps._socket("c", "agent", MAKE_CHILD_PRIORITY)(tmp_path / "a.sock"):
        assert served[-1]["priority"] == MAKE_CHILD_PRIORITY
    # A scripted model has no measured speed: the limits stay at their unmeasured values.
    limits = steps.agent_limits()
    assert (limits.max_seconds, limits.command_timeout, limits.reply_tokens) == (300.0, 30.0, 512)


def test_auto_limits_follow_the_measured_speed():
    limits = AgentLimits(max_steps=3, margin=2.0)
    fast, slow = limits.at_speed(100.0, 100), limits.at_speed(10.0, 100)
    assert fast.max_seconds == pytest.approx(15 + 2 * 3 * 600 / 100)
    assert slow.max_seconds == pytest.approx(15 + 2 * 3 * 600 / 10)
    assert (fast.command_timeout, slow.command_timeout) == (12.0, 120.0)
    assert "--reply-tokens" in fast.argv() and str(slow.max_seconds) in slow.argv()
    fixed = AgentLimits(max_seconds=50, command_timeout=5).at_speed(1.0, 100)
    assert (fixed.max_seconds, fixed.command_timeout) == (50, 5)
    assert AgentLimits().seconds() == 300.0  # unresolved auto: the unmeasured default
    with pytest.raises(ValueError, match="positive"):
        AgentLimits(max_seconds=0)
