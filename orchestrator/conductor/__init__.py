"""Meta-prompting conductors: a model that calls fresh-eyed experts and Expert Python.

``solve(question, layer)`` runs the conductor loop (a LangGraph subgraph, see ``graph``);
``solvers`` compares it with one direct call and zero-shot chain of thought on the
generated benchmarks; ``promptset`` stores the meta-expert instruction in the archive.
Importing this package imports no heavy library (langgraph and docker load when used).
"""

from __future__ import annotations

from .graph import (
    ConductorResult,
    ConductorSettings,
    ConductorState,
    build_conductor_graph,
    initial_state,
    solve,
)
from .parse import RUN_REQUEST, ExpertCall, Turn, code_to_run, parse_turn
from .promptset import PromptSet, load_prompt_set, store_prompt_set
from .python_expert import PythonExpert, PythonRun, SandboxPython
from .structured import StructuredMode, parse_structured_turn, turn_format, uses_structure

__all__ = [
    "RUN_REQUEST",
    "ConductorResult",
    "ConductorSettings",
    "ConductorState",
    "ExpertCall",
    "PromptSet",
    "PythonExpert",
    "PythonRun",
    "SandboxPython",
    "StructuredMode",
    "Turn",
    "build_conductor_graph",
    "code_to_run",
    "initial_state",
    "load_prompt_set",
    "parse_structured_turn",
    "parse_turn",
    "solve",
    "store_prompt_set",
    "turn_format",
    "uses_structure",
]
