"""`clade archive ...` on a real archive: every command on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clade.orchestrator.cli import app

WIDE = {"COLUMNS": "250", "NO_COLOR": "1"}


@pytest.fixture
def backend(each_backend):
    return each_backend


@pytest.fixture
def where(archive):
    """``--db`` and, where the blobs do not lie beside a SQLite file, ``--blobs``."""
    return archive_location(archive.url, Path(archive.blobs.root))


def archive_location(url, blob_dir):
    beside = url.startswith("sqlite:///") and blob_dir == Path(url[10:]).parent / "blobs"
    return ["--db", url] if beside else ["--db", url, "--blobs", str(blob_dir)]


@pytest.fixture
def cli(where, family):
    def invoke(*args: str):
        result = CliRunner().invoke(app, ["archive", *where, *args], env=WIDE)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        return result

    return invoke


def _clade(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clade.orchestrator", *args], capture_output=True, text=True
    )


def test_runs_and_ls_as_json_are_pure_json(cli, family):
    runs = json.loads(cli("runs", "--json").stdout)
    assert [r["id"] for r in runs] == [family["run"].id] and runs[0]["candidates"] == 4
    rows = json.loads(cli("ls", "--json").stdout)
    assert [r["id"] for r in rows] == [family[k].id for k in ("seed", "a", "b", "c")]
    assert rows[1]["scores"] == {"toy": 1.0} and rows[1]["parent_id"] == family["seed"].id
    rejected = json.loads(cli("ls", family["run"].id[:15], "--status", "rejected", "--json").stdout)
    assert [r["id"] for r in rejected] == [family["c"].id]


def test_ls_table_shows_ids_scores_and_status(cli, family):
    out = cli("ls").stdout
    assert family["c"].id in out and "rejected" in out and "toy" in out and "1.000" in out
    assert "showing 2 of 4" in cli("ls", "--limit", "2").stdout


def test_show_prints_proposal_scores_and_lineage(cli, family):
    text = cli("show", family["a"].id[:14]).stdout
    assert family["a"].id in text and "lineage" in text and "toy" in text
    data = json.loads(cli("show", family["seed"].id, "--json").stdout)
    assert data["proposal"] == {"idea": "seed"} and data["children"] == 2
    assert data["lineage"] == [family["seed"].id]


def test_tree_diff_export_and_plot(cli, family, tmp_path):
    tree = cli("tree").stdout
    assert tree.index(family["seed"].id) < tree.index(family["a"].id) < tree.index(family["c"].id)
    nested = json.loads(cli("tree", "--json").stdout)
    assert nested[0]["children"][0]["children"][0]["id"] == family["c"].id
    assert "+print('child')" in cli("diff", family["seed"].id, family["a"].id).stdout
    assert cli("export", family["a"].id, str(tmp_path / "out")).exit_code == 0
    assert (tmp_path / "out" / "new.txt").read_text() == "x\n"
    png = tmp_path / "progress.png"
    assert cli("plot", family["run"].id, "--out", str(png)).exit_code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_export_run_and_import_run(cli, family, tmp_path, new_archive_url):
    dump = tmp_path / "run.jsonl"
    assert cli("export-run", family["run"].id, str(dump)).exit_code == 0
    other = archive_location(new_archive_url(), tmp_path / "copy-blobs")
    result = CliRunner().invoke(app, ["archive", *other, "import-run", str(dump)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["archive", *other, "ls", "--json"], env=WIDE)
    assert len(json.loads(result.stdout)) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "zzzz"), "no candidate with id 'zzzz'"),
        (("diff", "0", "0"), "matches"),
        (("ls", "zzzz"), "no run with id"),
    ],
)
def test_bad_ids_give_one_line_and_a_non_zero_exit(where, family, args, message):
    out = _clade("archive", *where, *args)
    assert out.returncode != 0 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and message in out.stderr, out.stderr


def test_a_corrupt_blob_gives_one_line(archive, where, family):
    path = archive.blobs.path(family["a"].tree_hash)
    path.write_bytes(path.read_bytes()[:-8] + b"garbage!")
    out = _clade("archive", *where, "diff", family["seed"].id, family["a"].id)
    assert out.returncode != 0 and out.stderr.count("\n") == 1 and "corrupt" in out.stderr


def test_a_missing_archive_is_not_created_by_listing(tmp_path):
    out = _clade("archive", "--db", f"sqlite:///{tmp_path / 'none.db'}", "runs")
    assert out.returncode != 0 and "no archive at" in out.stderr
    assert not (tmp_path / "none.db").exists()


def test_default_location_follows_clade_home(clade_home, make_tree):
    from clade.archive import Archive
    from clade.orchestrator.config import settings

    with Archive(settings().archive_url, clade_home / "blobs") as archive:
        run = archive.create_run("home")
        archive.add_candidate(run.id, archive.put_tree(make_tree({"a": "b"})))
    result = CliRunner().invoke(app, ["archive", "ls", "--json"], env=WIDE)
    assert result.exit_code == 0 and len(json.loads(result.stdout)) == 1
    assert (clade_home / "clade.db").exists()


def test_every_archive_command_has_help():
    from clade.orchestrator.cli.archive import archive_app

    for command in archive_app.registered_commands:
        assert command.callback.__doc__, command.name
    result = CliRunner().invoke(app, ["archive", "--help"], env=WIDE)
    for name in ("runs", "ls", "show", "tree", "diff", "export", "plot", "--db"):
        assert name in result.stdout


def test_an_unknown_status_filter_is_a_config_error(where, family):
    out = _clade("archive", *where, "ls", "--status", "admited")
    assert out.returncode == 2 and "unknown status 'admited'" in out.stderr
