"""The `execution:` options of a run config, and what happens without Ray."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from clade.archive.errors import ArchiveUnavailable, ConfigError, InfrastructureError
from clade.orchestrator.dgm.config import ExecutionOptions, RunConfig, load_config
from clade.orchestrator.dgm.distributed import connect, portable, rebuilt, shared_url
from clade.orchestrator.errors import SetupError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(tmp_path: Path, execution: object, **more: object) -> RunConfig:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"execution": execution, **more}))
    return load_config(path)


def test_the_default_is_local_execution_as_before(tmp_path):
    config = load_config(None)
    assert config.execution == ExecutionOptions()
    assert (config.execution.backend, config.execution.address) == ("local", "auto")
    # A run recorded before `execution` existed reads back the same way.
    old = config.model_dump(mode="json")
    del old["execution"]
    assert RunConfig.model_validate(old).execution.backend == "local"


def test_ray_options_are_read(tmp_path):
    config = _load(
        tmp_path,
        {"backend": "ray", "address": "ray://head.example:10001", "docker": 2, "cpus": 0.5,
         "max_retries": 5},
    )  # fmt: skip
    execution = config.execution
    assert (execution.backend, execution.docker, execution.cpus) == ("ray", 2, 0.5)
    assert execution.max_retries == 5
    for address in ("auto", "10.0.0.7:6379", "ray://10.0.0.7:10001"):
        assert _load(tmp_path, {"backend": "ray", "address": address}).execution.address == address


@pytest.mark.parametrize(
    ("execution", "message"),
    [
        ({"backend": "slurm"}, "execution.backend: Input should be 'local' or 'ray'"),
        ({"address": "http://head:8265"}, "expected auto, ray://host:port or host:port"),
        ({"address": "head"}, "expected auto, ray://host:port or host:port"),
        ({"docker": -1}, "execution.docker: Input should be greater than or equal to 0"),
        ({"cpus": "many"}, "execution.cpus: Input should be a valid number"),
        ({"max_retries": 1000}, "execution.max_retries: Input should be less than or equal"),
        ({"workers": 3}, "execution.workers: Extra inputs are not permitted"),
    ],
)
def test_bad_execution_options_are_one_line_errors(tmp_path, execution, message):
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, execution)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_approval_needs_local_execution(tmp_path):
    with pytest.raises(ConfigError, match=r"approve works with execution\.backend local only"):
        _load(tmp_path, {"backend": "ray"}, approve=True)


def test_ray_missing_is_a_setup_error_with_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if not installed
    with pytest.raises(SetupError) as raised:
        connect(ExecutionOptions(backend="ray"))
    assert raised.value.message == "execution.backend ray needs Ray: module 'ray' is not installed"
    assert raised.value.hint is not None and "clade-agents[ray]" in raised.value.hint


def test_ray_missing_fails_the_run_command_with_one_line(tmp_path):
    # A `ray` package that fails to import as an uninstalled one does, ahead on the path.
    (tmp_path / "fake" / "ray").mkdir(parents=True)
    (tmp_path / "fake" / "ray" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'ray'\", name='ray')\n"
    )
    (tmp_path / "run.yaml").write_text(
        yaml.safe_dump({
            "models": {"default": {"model": "scripted/scripted_agent:reply"}},
            "evaluation": {"evaluator": "word-sorting", "stages": [{"tasks": 1}]},
            "sandbox": {"backend": "local"},
            "execution": {"backend": "ray"},
        })
    )  # fmt: skip
    env = {**os.environ, "CLADE_HOME": str(tmp_path / ".clade"),
           "PYTHONPATH": os.pathsep.join([str(tmp_path / "fake"), str(EXAMPLES)])}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "clade.orchestrator", "run", "run.yaml"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    errors = done.stderr.strip().splitlines()
    assert len(errors) == 1, done.stderr
    assert "execution.backend ray needs Ray: module 'ray' is not installed" in errors[0]
    assert "clade-agents[ray]" in errors[0]


def test_workers_get_an_absolute_sqlite_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert shared_url("sqlite:///.clade/clade.db") == f"sqlite:///{tmp_path}/.clade/clade.db"
    assert shared_url("sqlite:////abs/clade.db?timeout=5") == "sqlite:////abs/clade.db?timeout=5"
    url = "postgresql+psycopg://clade:secret@db:5432/clade"
    assert shared_url(url) == url
    with pytest.raises(ConfigError, match="not an in-memory one"):
        shared_url("sqlite://")


def test_a_worker_s_clade_error_comes_back_as_the_same_kind():
    again = rebuilt(portable(ArchiveUnavailable("the database is away", hint="wait")))
    assert isinstance(again, ArchiveUnavailable) and isinstance(again, InfrastructureError)
    assert (again.message, again.hint) == ("the database is away", "wait")
    unknown = rebuilt({"kind": "nowhere.module:Gone", "message": "odd", "hint": None})
    assert type(unknown).__name__ == "CladeError" and str(unknown) == "odd"
