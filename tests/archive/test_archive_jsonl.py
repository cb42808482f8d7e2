"""Export and import of a whole run as JSON lines."""

from __future__ import annotations

import json

import pytest

from clade.archive import Archive
from clade.archive.errors import ArchiveError, ImportFormatError


@pytest.fixture
def exported(family, archive, tmp_path):
    archive.add_evaluation(family["a"].id, "toy", "t5", 1.0, True, log="all good\n")
    archive.record_model_call(family["run"].id, family["a"].id, "coder", "m", 3, 4, 0.1, 0.2)
    archive.add_meta_prompt_version("judge", "j", "v1", run_id=family["run"].id, cases=[{"n": 1}])
    archive.record_trace(
        "conductor", "q1", [{"role": "user"}], answer="42", run_id=family["run"].id
    )
    path = tmp_path / "run.jsonl"
    archive.export_run(family["run"].id, path)
    return path


def _fresh(tmp_path, name="other"):
    return Archive(f"sqlite:///{tmp_path / name / 'clade.db'}", tmp_path / name / "blobs")


def test_a_run_survives_export_and_import(exported, family, archive, tmp_path):
    lines = exported.read_text().splitlines()
    assert all(json.loads(line)["type"] for line in lines)  # one object per line
    with _fresh(tmp_path) as other:
        assert other.import_run(exported) == family["run"].id
        run = family["run"].id
        assert other.list_candidates(run) == archive.list_candidates(run)
        assert other.score_matrix(run) == archive.score_matrix(run)
        assert other.diff(family["seed"].id, family["a"].id) == archive.diff(
            family["seed"].id, family["a"].id
        )
        assert other.show(family["a"].id).model_calls == 1
        assert [v.text for v in other.meta_prompt_versions("judge")] == ["v1"]
        assert other.meta_prompt_versions("judge")[0].cases == [{"n": 1}]
        assert [(t.item, t.answer) for t in other.traces(run)] == [("q1", "42")]
        log_hash = next(json.loads(line)["data"]["log_hash"] for line in lines if '"t5"' in line)
        assert other.get_log(log_hash) == "all good\n"
        with pytest.raises(ArchiveError, match="already in this archive"):
            other.import_run(exported)


def test_a_malformed_line_is_reported_with_its_number_and_nothing_is_written(exported, tmp_path):
    lines = exported.read_text().splitlines()
    bad = json.loads(lines[3])
    bad["data"]["generation"] = "many"
    lines[3] = json.dumps(bad)
    exported.write_text("\n".join(lines) + "\n")
    with _fresh(tmp_path) as other:
        with pytest.raises(ImportFormatError, match=r"run.jsonl:4: bad candidate \(generation"):
            other.import_run(exported)
        assert other.list_runs() == []


def test_not_json_and_tampered_blobs_are_refused(exported, tmp_path):
    lines = exported.read_text().splitlines()
    (tmp_path / "garbage.jsonl").write_text(lines[0] + "\n{not json\n")
    tampered = [json.loads(line) for line in lines]
    blob = next(r for r in tampered if r["type"] == "blob")
    blob["data"]["hash"] = "0" * 64
    (tmp_path / "tampered.jsonl").write_text("\n".join(json.dumps(r) for r in tampered) + "\n")
    with _fresh(tmp_path) as other:
        with pytest.raises(ImportFormatError, match=r"garbage\.jsonl:2"):
            other.import_run(tmp_path / "garbage.jsonl")
        with pytest.raises(ImportFormatError, match="does not match its hash"):
            other.import_run(tmp_path / "tampered.jsonl")
        assert other.list_runs() == []


def test_an_export_missing_a_parent_is_refused_whole(exported, tmp_path):
    records = [json.loads(line) for line in exported.read_text().splitlines()]
    seed_id = next(r["data"]["id"] for r in records if r["type"] == "candidate")
    kept = [r for r in records if not (r["type"] == "candidate" and r["data"]["id"] == seed_id)]
    kept = [r for r in kept if r["data"].get("candidate_id") != seed_id]
    (tmp_path / "orphans.jsonl").write_text("\n".join(json.dumps(r) for r in kept) + "\n")
    with _fresh(tmp_path) as other:
        with pytest.raises(ImportFormatError, match="inconsistent"):
            other.import_run(tmp_path / "orphans.jsonl")
        assert other.list_runs() == []
