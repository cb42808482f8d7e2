"""The editable improvement procedure (run option ``improvement.editable``).

With the option on, how a parent makes its children is part of its own tree, in ``meta/``,
so a child may rewrite it and its children are made with its version (HyperAgents' editable
meta agent):

- ``meta/diagnose.j2``: the diagnosis prompt (shipped: ``prompts/diagnose.j2``);
- ``meta/self_improve.j2``: the self-improvement task (shipped: ``prompts/self_improve.j2``);
- ``meta/choose_failure.json``: which of the parent's failed tasks the diagnosis is shown,
  as data (:class:`FailureChoice`), never code run on the host.

The orchestrator only reads these files: a template is rendered by Jinja2's sandboxed
environment with ``StrictUndefined`` in a child process with CPU, memory and output limits
(``_meta_render.py``), after a size check. A file that is missing, too large, not UTF-8,
invalid, or fails a trial render on sample variables is replaced by the shipped default, and
the reason is kept in :attr:`Procedure.fallbacks`; the graph records
:meth:`Procedure.record` (the hash of the parent's ``meta/`` files and the fallbacks) in each
child's ``meta["procedure"]``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clade import prompts

from .sampling import pick_many

T = TypeVar("T")
log = logging.getLogger("clade.procedure")

META = "meta/"
DIAGNOSE, SELF_IMPROVE, CHOOSE = (
    "meta/diagnose.j2",
    "meta/self_improve.j2",
    "meta/choose_failure.json",
)
#: Template file -> the shipped prompt it defaults to.
TEMPLATES = {DIAGNOSE: "diagnose", SELF_IMPROVE: "self_improve"}
#: Bytes a meta file may hold; characters a rendered prompt may hold.
MAX_FILE_BYTES = 16_384
MAX_OUTPUT_CHARS = 60_000
#: Wall seconds a render may take (the renderer also caps its own CPU time).
RENDER_TIMEOUT_S = 20.0
_RENDERER = Path(__file__).with_name("_meta_render.py")


class FailureChoice(BaseModel):
    """Which of the parent's failed tasks the diagnosis is shown (``meta/choose_failure.json``).

    The default is Clade's behaviour without the option: one failure, drawn by the run's
    seed, the child's key and its parent, so siblings see different ones."""

    model_config = ConfigDict(extra="forbid")

    order: Literal["seeded", "lowest_score", "longest_log", "task_order"] = Field(
        default="seeded",
        description="seeded: from a start drawn by (run seed, generation, parent); "
        "lowest_score: the lowest-scored first; longest_log: the longest log first; "
        "task_order: in the split's order. Siblings start one further along.",
    )
    show: int = Field(default=1, ge=1, le=3, description="Failed tasks shown (consecutive).")
    log_chars: int | None = Field(
        default=None,
        ge=200,
        le=8_000,
        description="Characters of each failed task's log (its end); null: the run's budget "
        "for the diagnosis engine (less on local engines).",
    )


@dataclass(frozen=True)
class Procedure:
    """A parent's improvement procedure as read from its tree, defaults filled in."""

    diagnose: str
    self_improve: str
    choice: FailureChoice
    digest: str
    fallbacks: dict[str, str] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """What a child's ``meta["procedure"]`` holds: which version made it."""
        return {"hash": self.digest, "fallbacks": dict(sorted(self.fallbacks.items()))}


def default_files() -> dict[str, bytes]:
    """The shipped procedure, as the files a seed tree holds under ``meta/``."""
    files = {path: prompts.source(name).encode() for path, name in TEMPLATES.items()}
    files[CHOOSE] = (FailureChoice().model_dump_json(indent=2) + "\n").encode()
    return files


def meta_files(files: Mapping[str, bytes]) -> dict[str, bytes]:
    return {p: d for p, d in files.items() if p.startswith(META)}


def digest(files: Mapping[str, bytes]) -> str:
    """The sha256 of a tree's ``meta/`` files (path, length and bytes of each, in order)."""
    h = hashlib.sha256()
    for path, data in sorted(meta_files(files).items()):
        h.update(f"{path}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def load_procedure(files: Mapping[str, bytes]) -> Procedure:
    """The procedure in a tree's ``meta/`` (the same files always give the same one)."""
    mine = meta_files(files)
    return _load(tuple(sorted(mine.items())))


@lru_cache(maxsize=64)
def _load(items: tuple[tuple[str, bytes], ...]) -> Procedure:
    files, shipped = dict(items), default_files()
    fallbacks: dict[str, str] = {}
    texts: dict[str, str] = {}
    for path in (DIAGNOSE, SELF_IMPROVE, CHOOSE):
        text, problem = _text(files.get(path))
        if text is not None:
            problem = _check(path, text)
        if problem is None and text is not None:
            texts[path] = text
        else:
            fallbacks[path] = problem or "unreadable"
            texts[path] = shipped[path].decode()
    return Procedure(
        diagnose=texts[DIAGNOSE],
        self_improve=texts[SELF_IMPROVE],
        choice=FailureChoice.model_validate_json(texts[CHOOSE]),
        digest=digest(files),
        fallbacks=fallbacks,
    )


def _text(data: bytes | None) -> tuple[str | None, str | None]:
    if data is None:
        return None, "missing"
    if len(data) > MAX_FILE_BYTES:
        return None, f"{len(data)} bytes, over the {MAX_FILE_BYTES} a meta file may hold"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 text: {exc.reason} at byte {exc.start}"


def _check(path: str, text: str) -> str | None:
    """Why ``text`` cannot serve as ``path`` (None: it can); templates get a trial render."""
    if path == CHOOSE:
        try:
            FailureChoice.model_validate_json(text)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "the file"
            return f"invalid: {where}: {first['msg']}"
        return None
    if text == prompts.source(TEMPLATES[path]):
        return None  # the shipped prompt: known to render
    jobs = [(text, variables) for variables in SAMPLES[path]]
    for outcome, value in run_renderer(jobs):
        if outcome != "ok":
            return f"a trial render failed: {value}"
    return None


def run_renderer(jobs: Sequence[tuple[str, Mapping[str, Any]]]) -> list[tuple[str, str]]:
    """Render each (template source, variables) in the sandboxed child process:
    ("ok", text) or ("error", reason) for each."""
    request = json.dumps({"jobs": jobs, "max_output": MAX_OUTPUT_CHARS})
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", _RENDERER.read_text(encoding="utf-8")],
            input=request, capture_output=True, text=True, timeout=RENDER_TIMEOUT_S,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return [("error", f"rendering took over {RENDER_TIMEOUT_S:.0f} s")] * len(jobs)
    except OSError as exc:
        return [("error", f"the renderer did not start: {exc.strerror}")] * len(jobs)
    if done.returncode != 0:
        why = "over its CPU time" if done.returncode in (-24, -9) else f"exit {done.returncode}"
        tail = done.stderr.strip().splitlines()[-1:] or [""]
        return [("error", f"the renderer stopped ({why}) {tail[0][:200]}".strip())] * len(jobs)
    try:
        return [(str(o), str(v)) for o, v in json.loads(done.stdout)]
    except (ValueError, TypeError) as exc:
        return [("error", f"the renderer's answer was unreadable: {exc}")] * len(jobs)


def render(procedure: Procedure, path: str, variables: Mapping[str, Any]) -> str:
    """The prompt of ``path`` (a template of :data:`TEMPLATES`) from the parent's procedure;
    the shipped prompt when it is the default, or when the parent's version fails here
    (logged: the trial render on sample variables passed, these ones broke it)."""
    source = procedure.diagnose if path == DIAGNOSE else procedure.self_improve
    name = TEMPLATES[path]
    if path in procedure.fallbacks or source == prompts.source(name):
        return prompts.render(name, **variables)
    [(outcome, value)] = run_renderer([(source, variables)])
    if outcome == "ok":
        return value
    log.warning("%s of procedure %s fell back to the default: %s", path, procedure.digest, value)
    return prompts.render(name, **variables)


def choose(
    items: Sequence[T],
    choice: FailureChoice,
    *,
    run_seed: int,
    parent_id: str,
    key: str,
    score: Callable[[T], Any] | None = None,
    log_of: Callable[[T], str] | None = None,
) -> list[T]:
    """The ``choice.show`` items a child's diagnosis sees, ordered as ``choice`` says
    (``score``/``log_of``: an item's score and log, for those orders)."""
    if choice.order == "seeded":
        return pick_many(items, run_seed, parent_id, key, choice.show)
    if choice.order == "lowest_score":
        ordered = sorted(items, key=score) if score else list(items)
    elif choice.order == "longest_log":
        ordered = sorted(items, key=lambda i: -len(log_of(i))) if log_of else list(items)
    else:
        ordered = list(items)
    return pick_many(ordered, run_seed, parent_id, key, choice.show, rotate=False)


#: Sample variables of each template's trial render (the shapes the steps pass).
_FAILURE = {"task": "Sort the words: pear apple.", "trajectory": "(steps)", "result": "failed"}
SAMPLES: dict[str, list[dict[str, Any]]] = {
    DIAGNOSE: [
        {"files": [["coder/loop.py", "print('hi')\n"]], "task": _FAILURE["task"],
         "trajectory": "", "result": "", "experience": False, "more_failures": []},
        {"files": [["coder/loop.py", "x = 1\n"], ["meta/diagnose.j2", "..."]], **_FAILURE,
         "experience": True, "more_failures": [_FAILURE, _FAILURE]},
    ],
    SELF_IMPROVE: [
        {"problem_statement": "Always sort.", "implementation_plan": "Edit the prompt.",
         "prompt_files": [["coder/prompts/system.md", "You are an engineer.\n"]]},
        {"problem_statement": "Always sort.", "implementation_plan": "", "prompt_files": []},
    ],
}  # fmt: skip


def meta_note(files: Sequence[str]) -> str:
    """The paragraph the self-improvement task ends with when the procedure is editable."""
    fields = FailureChoice.model_fields
    return prompts.render(
        "self_improve_meta",
        files=sorted({*files, *TEMPLATES, CHOOSE}),
        orders=list(fields["order"].annotation.__args__),  # type: ignore[union-attr]
        default=FailureChoice().model_dump_json(),
        variables={path: sorted(SAMPLES[path][0]) for path in TEMPLATES},
    )
