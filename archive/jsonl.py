"""Export and import of a whole run as JSON lines, validated on read.

One JSON object per line: a header, the run, its candidates (parents first), evaluations,
model calls, meta-prompt versions, and every blob they refer to (base64 of the stored
gzip), so an export is self-contained. Import checks each line against the table models
and each blob against its hash, and writes the rows in one transaction.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, ValidationError

from clade.archive.errors import ArchiveError, ImportFormatError
from clade.archive.tables import Candidate, Evaluation, MetaPromptVersion, ModelCall, Run, Trace

if TYPE_CHECKING:
    from clade.archive.facade import Archive

FORMAT = "clade-run"
VERSION = 1
_TABLES: dict[str, Any] = {
    "run": Run,
    "candidate": Candidate,
    "evaluation": Evaluation,
    "model_call": ModelCall,
    "meta_prompt": MetaPromptVersion,
    "trace": Trace,
}


class Record(BaseModel):
    """One line of an export."""

    type: Literal[
        "header", "run", "candidate", "evaluation", "model_call", "meta_prompt", "trace", "blob"
    ]
    data: dict[str, Any] = Field(default_factory=dict, description="The row, or blob facts.")


def _line(kind: str, data: dict[str, Any]) -> str:
    return json.dumps({"type": kind, "data": data}, separators=(",", ":")) + "\n"


def _rows(archive: Archive, table: Any, where: Any) -> Iterator[Any]:
    from sqlalchemy import inspect
    from sqlmodel import select

    order = inspect(table).primary_key
    with archive._read_session() as session:
        yield from session.exec(select(table).where(where).order_by(*order)).yield_per(5000)


def export_run(archive: Archive, run_id: str, path: Path) -> int:
    """Write run `run_id` to `path`; returns the number of lines."""
    from sqlmodel import col

    run = archive.get_run(run_id)
    lines = 0
    tmp = path.with_name(path.name + ".tmp")
    blobs: list[tuple[str, str]] = []
    with tmp.open("w") as out:
        out.write(_line("header", {"format": FORMAT, "version": VERSION}))
        out.write(_line("run", run.model_dump(mode="json")))
        lines += 2
        candidates = sorted(
            _rows(archive, Candidate, Candidate.run_id == run_id),
            key=lambda c: (c.generation, c.id),
        )
        for cand in candidates:
            out.write(_line("candidate", cand.model_dump(mode="json")))
            blobs.append(("tree", cand.tree_hash))
        lines += len(candidates)
        ids = [c.id for c in candidates]
        for start in range(0, len(ids), 500):
            where = col(Evaluation.candidate_id).in_(ids[start : start + 500])
            for ev in _rows(archive, Evaluation, where):
                out.write(_line("evaluation", ev.model_dump(mode="json", exclude={"id"})))
                lines += 1
                if ev.log_hash:
                    blobs.append(("log", ev.log_hash))
        for call in _rows(archive, ModelCall, ModelCall.run_id == run_id):
            out.write(_line("model_call", call.model_dump(mode="json", exclude={"id"})))
            lines += 1
        for version in _rows(archive, MetaPromptVersion, MetaPromptVersion.run_id == run_id):
            out.write(_line("meta_prompt", version.model_dump(mode="json")))
            lines += 1
        for trace in _rows(archive, Trace, Trace.run_id == run_id):
            out.write(_line("trace", trace.model_dump(mode="json")))
            lines += 1
        for kind, digest in dict.fromkeys(blobs):
            raw = archive.blobs.path(digest, kind).read_bytes()
            archive.blobs.get(digest, kind)  # refuse to export a corrupt blob
            data = {"kind": kind, "hash": digest, "gzip_b64": base64.b64encode(raw).decode()}
            out.write(_line("blob", data))
            lines += 1
    tmp.replace(path)
    return lines


def _parse(path: Path) -> Iterator[tuple[int, Record]]:
    with path.open() as handle:
        for number, text in enumerate(handle, 1):
            if not text.strip():
                continue
            try:
                yield number, Record.model_validate_json(text)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ImportFormatError(
                    f"{path}:{number}: not an export line ({where}: {first['msg']})",
                    hint="the file must be written by `clade archive export-run`",
                ) from exc


def import_run(archive: Archive, path: Path) -> str:
    """Read an export written by :func:`export_run` into `archive`; returns the run id."""
    rows: dict[str, list[Any]] = {name: [] for name in _TABLES}
    header = False
    for number, record in _parse(Path(path)):
        if record.type == "header":
            if record.data.get("format") != FORMAT or record.data.get("version") != VERSION:
                raise ImportFormatError(f"{path}:{number}: unknown export format {record.data}")
            header = True
            continue
        if not header:
            raise ImportFormatError(f"{path}:{number}: the first line must be the header")
        try:
            if record.type == "blob":
                _import_blob(archive, record.data)
            else:
                rows[record.type].append(_TABLES[record.type].model_validate(record.data))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ImportFormatError(
                f"{path}:{number}: bad {record.type} ({where}: {first['msg']})"
            ) from exc
    if len(rows["run"]) != 1:
        raise ImportFormatError(f"{path}: expected one run, found {len(rows['run'])}")
    run = rows["run"][0]
    return _write(archive, run, rows)


def _import_blob(archive: Archive, data: dict[str, Any]) -> None:
    try:
        kind, digest = data["kind"], data["hash"]
        content = gzip.decompress(base64.b64decode(data["gzip_b64"], validate=True))
    except (KeyError, ValueError, OSError, EOFError) as exc:
        raise ImportFormatError(f"unreadable blob record: {exc}") from exc
    if kind not in ("tree", "log") or hashlib.sha256(content).hexdigest() != digest:
        raise ImportFormatError(f"blob {str(digest)[:12]} does not match its hash")
    archive.blobs.put(content, kind)


def _write(archive: Archive, run: Run, rows: dict[str, list[Any]]) -> str:
    from sqlalchemy.exc import IntegrityError

    if any(c.run_id != run.id for c in rows["candidate"]):
        raise ImportFormatError("a candidate belongs to another run than the export's")
    for cand in rows["candidate"]:
        if not archive.blobs.has(cand.tree_hash):
            raise ImportFormatError(f"candidate {cand.id}: its tree is missing from the export")
    if run.id in {r.id for r in archive.list_runs()}:
        raise ArchiveError(f"run {run.id} is already in this archive", hint="nothing to import")
    try:
        _insert_all(archive, run, rows)
    except IntegrityError as exc:
        raise ImportFormatError(f"the export is inconsistent: {str(exc.orig).strip()}") from exc
    return run.id


def _insert_all(archive: Archive, run: Run, rows: dict[str, list[Any]]) -> None:
    from sqlalchemy import insert
    from sqlmodel import Session

    with Session(archive.engine, expire_on_commit=False) as session, session.begin():
        session.add(run)
        session.flush()
        for cand in sorted(rows["candidate"], key=lambda c: (c.generation, c.id)):
            session.add(cand)
            session.flush()
        session.add_all(rows["meta_prompt"])
        session.add_all(rows["trace"])
        conn = session.connection()
        for name, table in (("evaluation", Evaluation), ("model_call", ModelCall)):
            values = [r.model_dump(exclude={"id"}) for r in rows[name]]
            for start in range(0, len(values), 2000):
                conn.execute(insert(table), values[start : start + 2000])
        archive.stores.evaluations.refresh_scores(session, (c.id for c in rows["candidate"]))
