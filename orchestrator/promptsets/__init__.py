"""Prompt-set runs: the DGM graph over conductor prompt sets (``kind: prompt_set``).

:class:`~.steps.PromptSetSteps` implements the graph's ``Steps`` with the ``mutate`` role
and the conductor, :class:`~.judge.JudgePromptSteps` with the ``mutate`` role and a frozen
judge scored on gold pairs; :func:`~.launch.steps_factory` picks the steps for a run's kind. Sits
above both ``dgm`` and ``conductor``, which stay independent of each other. Importing it
imports no heavy library.
"""

from __future__ import annotations

from .judge import JudgePromptSteps, meta_prompt_of
from .launch import check_prompt_set_config, promptset_steps, steps_factory
from .steps import PromptSetSteps, prompt_set_of, put_prompt_set

__all__ = [
    "JudgePromptSteps",
    "PromptSetSteps",
    "check_prompt_set_config",
    "meta_prompt_of",
    "prompt_set_of",
    "promptset_steps",
    "put_prompt_set",
    "steps_factory",
]
