"""The dashboard's templates and static files ship, and its templates always autoescape."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "orchestrator" / "dashboard"


def test_every_template_and_static_file_matches_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = config["package-data"]["clade.orchestrator.dashboard"] + config["package-data"]["*"]
    files = [
        p.relative_to(PACKAGE).as_posix()
        for d in ("templates", "static")
        for p in (PACKAGE / d).iterdir()
    ]
    assert files
    unshipped = [f for f in files if not any(fnmatch.fnmatch(f, p) for p in patterns)]
    assert not unshipped, f"add to package-data: {unshipped}"


def test_templates_autoescape_and_compile():
    from clade.orchestrator.dashboard.app import templates

    env = templates().env
    assert env.autoescape is True
    for name in env.list_templates():
        env.get_template(name)  # a syntax error fails here
        assert "|safe" not in (PACKAGE / "templates" / name).read_text().replace(" ", "")
