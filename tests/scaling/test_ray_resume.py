"""An orchestrator on a Ray cluster, SIGKILLed mid-run: `clade run --resume` joins the
cluster again and finishes the run, each child made once and each task evaluated once."""

from __future__ import annotations

import pytest
import yaml

from tests import scripted_runs as runs

pytestmark = [pytest.mark.ray, pytest.mark.docker, pytest.mark.slow]


def test_a_killed_orchestrator_resumes_on_the_cluster(ray_cluster, tmp_path):

    config = {
        **runs.CONFIG,
        "selection": {"policy": "best", "children_per_generation": 2},
        "budget": {"generations": 1},
        "execution": {"backend": "ray", "address": ray_cluster.address},
    }
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    env = runs.clade_env(tmp_path / ".clade")
    archive = runs.home_archive(tmp_path / ".clade")
    first = runs.clade("run", "run.yaml", env=env, cwd=tmp_path)
    run_id, _ = runs.kill_once_a_child_exists(first, archive, timeout_s=180)  # a child is made

    second = runs.clade("run", "--resume", run_id, env=env, cwd=tmp_path)
    output, _ = second.communicate(timeout=240)
    assert second.returncode == 0, output
    rows = archive.list_candidates(run_id)
    assert runs.keys(archive, run_id) == ["g1c0", "g1c1", "seed"]  # each child made once
    for row in rows:
        assert len(archive.evaluations(row.id)) == 2  # each task scored once
        assert row.status in {"admitted", "rejected"}
    assert archive.get_run(run_id).status == "finished"
