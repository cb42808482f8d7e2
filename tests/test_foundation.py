"""The skeleton: packaging, the folder READMEs and what they allow, the CLI's start-up,
`clade doctor`."""

from __future__ import annotations

import ast
import re
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


# Every part has a README, and so may a sub-package of the orchestrator.
READMES = [f"{part}/README.md" for part in PARTS] + sorted(
    str(p.relative_to(ROOT)) for p in ROOT.glob("orchestrator/*/README.md")
)
# Files a README names: `x.py`, `_x.py`, `llamacpp*.py`, `prompts/judge_*.j2`, `a.json`.
FILE_NAME = re.compile(r"`([\w./*-]+\.(?:py|j2|json))`")


def allowed_imports(readme: Path) -> list[str]:
    """The Clade modules named in a README's one `May import:` sentence (with
    `clade.a.{b,c}` read as `clade.a.b` and `clade.a.c`)."""
    sentences = re.findall(r"May import:(.*?)\.(?:\s|$)", readme.read_text(), re.S)
    assert len(sentences) == 1, f"{readme}: say once what this folder may import"
    names = []
    for name in re.findall(r"`(clade\.[\w.{},]+)`", sentences[0]):
        brace = re.fullmatch(r"(.*)\.\{(.*)\}", name)
        names += [f"{brace[1]}.{n}" for n in brace[2].split(",")] if brace else [name]
    return names


def module_path(name: str) -> Path | None:
    """Where the module `clade.<part>...` lives in this tree, or None."""
    parts = name.split(".")[1:]
    base = ROOT.joinpath(*parts)
    for found in (base.with_suffix(".py"), base / "__init__.py"):
        if found.is_file():
            return found
    return None


def clade_imports(folder: Path) -> list[tuple[Path, int, str]]:
    """Every absolute `clade.*` import (lazy ones too) of the folder's Python files, except
    those below a sub-folder with a README of its own (that README rules them)."""
    found = []
    for py in sorted(folder.rglob("*.py")):
        inner = py.parent
        if any((d / "README.md").is_file() for d in [inner, *inner.parents] if folder in d.parents):
            continue
        found += [(py, line, name) for line, name in imports_of(py) if name.startswith("clade.")]
    return found


def imports_of(py: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in ``py``, lazy ones too."""
    found = []
    for node in ast.walk(ast.parse(py.read_text(), str(py))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("part", PARTS)
def test_each_part_has_a_readme(part):
    assert (ROOT / part / "README.md").is_file()


@pytest.mark.parametrize("readme", READMES)
def test_readme_names_only_real_modules(readme):
    path = ROOT / readme
    allowed_imports(path)  # the sentence is there, once
    for name in re.findall(r"`(clade\.[\w.{},]+)`", path.read_text()):
        brace = re.fullmatch(r"(.*)\.\{(.*)\}", name)
        for module in [f"{brace[1]}.{n}" for n in brace[2].split(",")] if brace else [name]:
            assert module_path(module), f"{readme} names {module}, which does not exist"


@pytest.mark.parametrize("readme", READMES)
def test_readme_names_only_files_that_exist(readme):
    path = ROOT / readme
    names = FILE_NAME.findall(path.read_text())
    assert names, f"{readme} names none of the files it describes"
    for name in names:
        matches = list(path.parent.rglob(name)) if "/" not in name else []
        matches += list(path.parent.glob(name)) + list(ROOT.glob(name))
        assert matches, f"{readme} names {name}, which is not in {path.parent.name}/ or the repo"


@pytest.mark.parametrize("readme", READMES)
def test_each_folder_imports_only_what_its_readme_allows(readme):
    folder = (ROOT / readme).parent
    own = "clade." + ".".join(folder.relative_to(ROOT).parts)
    allowed = [own, *allowed_imports(ROOT / readme)]
    crossings = [
        f"{py.relative_to(ROOT)}:{line} imports {name}"
        for py, line, name in clade_imports(folder)
        if not any(name == a or name.startswith(a + ".") for a in allowed)
    ]
    assert not crossings, f"not allowed by {readme}: {crossings}"


def test_the_agents_use_the_standard_library_only():
    # They run in a sandbox image that holds neither Clade nor anything from PyPI.
    own = {p.stem for p in (ROOT / "agents").iterdir()}
    foreign = []
    for py in sorted((ROOT / "agents").rglob("*.py")):
        for line, name in imports_of(py):
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names and top not in own:
                foreign.append(f"{py.relative_to(ROOT)}:{line} imports {name}")
    assert not foreign, foreign


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
