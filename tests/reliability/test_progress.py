"""What `clade run` prints: without a terminal, one timestamped line per event as it happens;
candidates named by key, never two children under one printed name."""

from __future__ import annotations

import io
import re

from rich.console import Console


def _progress(archive):
    from clade.orchestrator.dgm.config import RunConfig
    from clade.orchestrator.dgm.report import Progress

    run_id = archive.create_run("shown").id
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=60)
    return Progress(console, archive, run_id, RunConfig()), out, run_id


def test_without_a_terminal_each_event_is_one_timestamped_line(archive, make_tree):
    progress, out, run_id = _progress(archive)
    tree = archive.put_tree(make_tree({"a.py": "x = 1\n"}))
    seed = archive.add_candidate(run_id, tree, status="admitted", meta={"key": "seed"})
    # Two siblings made in the same millisecond share a long id prefix, never a key.
    kids = [archive.add_candidate(run_id, tree, parent_id=seed.id, meta={"key": f"g1c{i}"})
            for i in range(2)]  # fmt: skip
    with progress:
        progress.emit({"event": "seed", "candidate": seed.id, "score": 0.0})
        progress.emit({"event": "generation", "generation": 1, "parents": [seed.id, seed.id]})
        progress.emit({"event": "evaluated", "candidate": kids[0].id, "tasks": 2})
        for kid in kids:
            progress.emit(
                {"event": "child", "candidate": kid.id, "status": "admitted", "score": 1.0}
            )
        progress.emit({"event": "child", "key": "g1c2", "status": "failed", "reason": "a long "
                       "reason that would have been folded onto a second line by rich"})  # fmt: skip
        progress.emit({"event": "finished", "reason": "1 generation(s) done"})
    lines = out.getvalue().splitlines()
    stamp = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d "
    assert len(lines) == 7 and all(re.match(stamp, line) for line in lines), lines
    text = "\n".join(lines)
    assert "generation 1/3: parents seed, seed" in text
    assert "g1c0: 2 task(s) evaluated" in text
    assert "child g1c0: admitted score 1.000" in text and "child g1c1: admitted" in text
    assert "by rich" in lines[-2]  # one line, not folded at the console's width
    assert "stopped: 1 generation(s) done" in lines[-1]


def test_a_candidate_without_a_key_gets_its_shortest_unique_prefix(archive, make_tree):
    from clade.orchestrator.dgm.report import Names

    run_id = archive.create_run("names").id
    tree = archive.put_tree(make_tree({"a.py": "x = 1\n"}))
    a = archive.add_candidate(run_id, tree)
    b = archive.add_candidate(run_id, tree)
    names = Names(archive, run_id)
    shown = names(a.id), names(b.id)
    assert shown[0] != shown[1]
    assert a.id.startswith(shown[0]) and b.id.startswith(shown[1])
    assert len(shown[0]) >= 8
