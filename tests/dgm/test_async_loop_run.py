"""The async loop's whole run on the real path: `clade run --set loop=async` with Docker
sandboxes, the gateway and the scripted model (examples/scripted_agent.py)."""

from __future__ import annotations

import pytest

from tests import scripted_runs as runs


@pytest.mark.docker
@pytest.mark.slow
def test_a_scripted_cli_run_with_loop_async_killed_and_resumed(tmp_path, monkeypatch):
    """The real path: `clade run --set loop=async` (Docker sandboxes, the gateway, the
    scripted model), killed with SIGKILL once a child exists, then `clade run --resume`."""

    import yaml

    from .test_dgm_run import CONFIG

    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({**CONFIG, "budget": {"generations": 3}}))  # 3 children
    env = runs.clade_env(tmp_path / ".clade")
    archive = runs.home_archive(tmp_path / ".clade")
    first = runs.clade("run", str(config), "--set", "loop=async", env=env, cwd=tmp_path)
    run_id, before = runs.kill_once_a_child_exists(first, archive)

    second = runs.clade("run", "--resume", run_id[:6], env=env, cwd=tmp_path)
    output, _ = second.communicate(timeout=300)
    assert second.returncode == 0, output
    assert "a0 (1/3) started from seed" in before  # the async loop's progress lines
    rows = archive.list_candidates(run_id)
    assert runs.keys(archive, run_id) == ["a0", "a1", "a2", "seed"]  # each child made once
    for row in rows:
        assert len(archive.task_results(row.id, "word-sorting", "dev")) == 2  # scored once
    # The third child's parent was selected from the archive as it stood: a scored child.
    by_key = {archive.get_candidate(r.id).meta["key"]: r for r in rows}
    assert by_key["a2"].parent_id in {by_key["a0"].id, by_key["a1"].id}
    assert archive.get_run(run_id).status == "finished"
