"""`clade judge` end to end on a scripted model, with a real SQLite archive."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from clade.orchestrator.cli import app


def _pairs(path, n=5, labels=True):
    rows = [
        {"question": f"q{i}", "answer_a": f"GOOD {i}", "answer_b": f"bad {i}"}
        | ({"label": "A"} if labels else {})
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_judge_writes_rows_metrics_and_m_versions(clade_home, tmp_path, fake, scripted_name):
    fake.vanilla = "biased"
    model = scripted_name(fake)
    pairs = _pairs(tmp_path / "pairs.jsonl")
    out = tmp_path / "verdicts.jsonl"
    args = ["judge", str(pairs), "--method", "selective", "--model", model, "--name", "t"]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 5 and {r["path"] for r in rows} == {"lwe"}
    assert all(r["verdicts"] == 2 and r["label"] == "A" for r in rows)
    assert "pair accuracy" in result.stderr and "consistency" in result.stderr

    from clade.orchestrator.home import open_archive

    with open_archive() as archive:
        versions = archive.meta_prompt_versions("judge", "t")
        # 10 presentations on the LWE path: updates after 4 and 8, then a flush of 2
        assert [v.reason for v in versions] == ["seed", "update", "update", "flush"]
        assert [len(v.cases or []) for v in versions] == [0, 4, 4, 2]
        traces = archive.traces(kind="judge")
        assert len(traces) == 5 and traces[0].calls == rows[0]["calls"]
        latest = versions[-1].text

    seen = len(fake.prompts)
    resumed = CliRunner().invoke(app, [*args, "--resume", "--no-swap"])
    assert resumed.exit_code == 0, resumed.output
    assert fake.prompts[seen + 2].startswith(latest + "\n")  # 2 vanilla calls, then the rubric
    assert len([line for line in resumed.stdout.splitlines() if line.startswith("{")]) == 5


def test_bad_input_is_one_line_error(clade_home, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "answer_a": "x"}\n')
    result = CliRunner().invoke(app, ["judge", str(bad)])
    assert result.exit_code != 0
    assert "bad.jsonl:1: answer_b" in str(result.exception)
    wrong = CliRunner().invoke(app, ["judge", str(_pairs(tmp_path / "p.jsonl")), "--method", "x"])
    assert wrong.exit_code != 0 and "unknown method" in str(wrong.exception)
