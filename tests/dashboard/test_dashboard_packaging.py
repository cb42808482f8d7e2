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


def test_the_dashboard_reads_the_archive_through_its_public_api_only():
    """No private name of the archive (``archive._read()``, ``clade.archive._x``, raw SQL
    helpers): the archive's public queries are what keeps the pages portable."""
    import ast

    crossings = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
                owner = node.value
                if not (isinstance(owner, ast.Name) and owner.id == "self"):
                    crossings.append(f"{path.name}:{node.lineno}: .{node.attr}")
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "clade.archive"
            ):
                names = [node.module or "", *(a.name for a in node.names)]
                if any(part.startswith("_") for name in names for part in name.split(".")):
                    crossings.append(f"{path.name}:{node.lineno}: from {node.module}")
                if node.module == "clade.archive.queries":
                    crossings.append(f"{path.name}:{node.lineno}: raw SQL from {node.module}")
    assert crossings == []
