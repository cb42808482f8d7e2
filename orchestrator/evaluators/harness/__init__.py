"""The grading harness: verdicts decided where the graded code cannot reach.

Every evaluator that executes an agent's code grades through :class:`SandboxGrader`
(``Grader.check``). See ``grader.py`` for the host side, ``_checker.py`` for the process
that decides, ``_worker.py`` for the solution's process, ``plain.py`` for what crosses
between them, and docs/EVALUATORS.md for what a plugin author may rely on.
"""

from .grader import SandboxGrader, Submission, checker_source, worker_source
from .plain import NotPlain, decode, encode

__all__ = [
    "NotPlain",
    "SandboxGrader",
    "Submission",
    "checker_source",
    "decode",
    "encode",
    "worker_source",
]
