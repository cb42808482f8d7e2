"""The skeleton: packaging, the CLI's start-up, `clade doctor`."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("agents", "orchestrator", "archive", "sandbox", "prompts")
HEAVY = ("torch", "transformers", "litellm", "docker", "langgraph", "sqlalchemy", "sqlmodel")


def test_every_package_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        "clade." + ".".join(init.parent.relative_to(ROOT).parts)
        for part in PARTS
        for init in (ROOT / part).rglob("__init__.py")
        if "tests" not in init.parts
    }
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert set(config["package-dir"]) == {f"clade.{p}" for p in PARTS}


@pytest.mark.parametrize("part", PARTS)
def test_each_part_has_a_readme(part):
    readme = ROOT / part / "README.md"
    assert readme.is_file() and "import" in readme.read_text()


def test_no_generic_top_level_names_are_importable():
    # `agents` is a popular SDK's import name: Clade must only install `clade.*`.
    code = "import importlib.util as u; print([n for n in ('agents', 'sandbox', 'archive', 'orchestrator') if u.find_spec(n)])"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd="/", capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_help_imports_no_heavy_library():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from clade.orchestrator.cli import app\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd="/", capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_help_lists_the_command_groups():
    out = subprocess.run(
        [sys.executable, "-m", "clade.orchestrator", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "doctor" in out.stdout


def test_doctor_reports_a_missing_engine_with_its_fix(monkeypatch):
    from clade.orchestrator import doctor

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    result = doctor._check_docker()
    assert not result.ok and "make setup" in result.fix


def test_doctor_exit_code_follows_required_checks(monkeypatch):
    from typer.testing import CliRunner

    from clade.orchestrator import doctor
    from clade.orchestrator.cli import app

    bad = doctor.CheckResult("thing", False, "missing", "install it")
    warn = doctor.CheckResult("extra", False, "missing", "optional", required=False)
    monkeypatch.setattr(doctor, "run_checks", lambda load=False: [warn])
    assert CliRunner().invoke(app, ["doctor"]).exit_code == 0
    monkeypatch.setattr(doctor, "run_checks", lambda load=False: [warn, bad])
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 1 and "install it" in result.output


@pytest.mark.docker
def test_doctor_is_green_on_a_set_up_machine():
    out = subprocess.run(
        [sys.executable, "-m", "clade.orchestrator", "doctor"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
