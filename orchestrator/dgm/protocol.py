"""What the run graph asks of the outside world: the steps that touch models and sandboxes.

:class:`~.steps.SandboxSteps` implements them with the model gateway and Docker; tests use
in-process stand-ins. Keeping the contract here lets the graph stay free of both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from clade.archive.tables import Candidate
    from clade.orchestrator.evaluators.base import Score, Task
    from clade.orchestrator.judges.review import DiffReview

    from .diagnosis import Proposal


#: Where a run's progress events go (the CLI's progress display, a test's list).
Emit = Callable[[dict[str, Any]], None]


class Modification(NamedTuple):
    """What a self-modification made: the child's tree, and the agent's log of making it."""

    tree: str
    log: str = ""


class SelfModificationFailed(Exception):
    """The agent could not modify itself; ``log`` is what it did before it failed."""

    def __init__(self, message: str, log: str = "") -> None:
        super().__init__(message)
        self.log = log


class Steps(Protocol):
    """The parts of a step that touch models and sandboxes (see ``steps.py``)."""

    def seed_tree(self) -> str:
        """Store the seed agent's tree; return its hash."""
        ...

    def diagnose(
        self, parent: Candidate, failures: list[tuple[Task, Score, str]], key: str = ""
    ) -> Proposal:
        """Propose an improvement from the parent's failed tasks (task, score, log) for the
        child ``key`` (``g1c0``): children of one generation see different failures."""
        ...

    def self_modify(self, parent: Candidate, proposal: Proposal, key: str) -> Modification:
        """Run the parent on its own code with the proposal; return the child's tree hash."""
        ...

    def evaluate(
        self, candidate: Candidate, tasks: list[Task]
    ) -> list[tuple[Score, dict[str, Any]]]:
        """Run the candidate on ``tasks`` and score them; each score comes with its log facts."""
        ...

    def review(self, parent: Candidate, diff: str) -> DiffReview:
        """Read a self-modification's diff: does it disable or game the evaluation?"""
        ...
