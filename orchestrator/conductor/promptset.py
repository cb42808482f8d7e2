"""The conductor's prompt set: the meta-expert instruction and the messages around it.

A :class:`PromptSet` holds Jinja2 template texts (one per field). The default one is read
from ``prompts/conductor_<field>.j2``; another can be stored in the archive as a candidate
of kind ``prompt_set`` (a tree of ``<field>.j2`` files) and loaded back by id, so the
conductor's instructions can be evolved like an agent's code.
"""

from __future__ import annotations

import tempfile
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from clade.archive.errors import ConfigError

if TYPE_CHECKING:
    from clade.archive.facade import Archive

#: Tag in a stored candidate's meta saying what the prompt set is for.
FAMILY = "conductor"


class PromptSet(BaseModel):
    """Template texts of one conductor (Jinja2, rendered with ``StrictUndefined``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    meta: str = Field(
        description="The meta-expert's system instruction; vars: python, rounds, structured "
        "(JSON turns; test it with `structured is defined`, older sets ignore it)."
    )
    question: str = Field(description="The first user message; vars: question.")
    expert: str = Field(description="An expert's system line; vars: name.")
    python: str = Field(description="Expert Python's system line; vars: timeout_s.")
    feedback: str = Field(description="Follows the experts' outputs: decide and verify.")
    reminder: str = Field(
        description="Sent after a turn with no expert call and no answer; vars: structured."
    )
    last_round: str = Field(description="Appended to the message of the last allowed round.")
    round_label: str = Field(description="Put before every message; vars: round.")

    @classmethod
    def default(cls) -> PromptSet:
        """The prompt set shipped in ``prompts/conductor_*.j2``."""
        folder = resources.files("clade.prompts")
        return cls(
            **{
                name: folder.joinpath(f"conductor_{name}.j2").read_text(encoding="utf-8")
                for name in cls.model_fields
            }
        )

    def render(self, field: str, **variables: Any) -> str:
        """Render template ``field`` with ``variables`` (a missing one is an error)."""
        return str(_template(getattr(self, field)).render(**variables)).strip()

    def files(self) -> dict[str, str]:
        """The prompt set as files: ``<field>.j2`` -> text."""
        return {f"{name}.j2": getattr(self, name) for name in type(self).model_fields}

    @classmethod
    def from_folder(cls, folder: Path) -> PromptSet:
        """Read a prompt set written by :meth:`files` (missing files are an error)."""
        missing = [n for n in cls.model_fields if not (folder / f"{n}.j2").is_file()]
        if missing:
            raise ConfigError(
                f"prompt set in {folder} lacks {', '.join(f'{n}.j2' for n in missing)}",
                hint="store a complete conductor prompt set (see docs/CONDUCTORS.md)",
            )
        return cls(
            **{n: (folder / f"{n}.j2").read_text(encoding="utf-8") for n in cls.model_fields}
        )


@cache
def _template(text: str) -> Any:
    import jinja2

    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
    )
    return env.from_string(text)


def store_prompt_set(
    archive: Archive,
    prompt_set: PromptSet,
    *,
    run_id: str | None = None,
    parent_id: str | None = None,
    status: str = "admitted",
) -> str:
    """Store ``prompt_set`` as a candidate of kind ``prompt_set``; returns its id.

    Without ``run_id`` a run of kind ``conductor`` is created to hold it."""
    if run_id is None:
        run_id = archive.create_run(name="conductor prompt set", kind="conductor").id
    with tempfile.TemporaryDirectory(prefix="clade-prompts-") as tmp:
        for name, text in prompt_set.files().items():
            (Path(tmp) / name).write_text(text, encoding="utf-8")
        tree = archive.put_tree(tmp)
    candidate = archive.add_candidate(
        run_id, tree, parent_id=parent_id, kind="prompt_set", status=status,
        meta={"family": FAMILY},
    )  # fmt: skip
    return candidate.id


def load_prompt_set(archive: Archive, candidate: str) -> PromptSet:
    """The prompt set stored as ``candidate`` (an id or unique prefix)."""
    candidate_id = archive.resolve_id(candidate, table="candidate")
    record = archive.get_candidate(candidate_id)
    # A prompt-set run's candidates carry no family tag: they are all conductor sets.
    if record.kind != "prompt_set" or (record.meta or {}).get("family", FAMILY) != FAMILY:
        raise ConfigError(
            f"candidate {candidate_id} is not a conductor prompt set (kind {record.kind})",
            hint="pass the id of a candidate stored with store_prompt_set",
        )
    with tempfile.TemporaryDirectory(prefix="clade-prompts-") as tmp:
        folder = archive.export_candidate(candidate_id, Path(tmp) / "set")
        return PromptSet.from_folder(folder)
