"""The registry: options validated by an evaluator's Config, and clean errors for bad plugins."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from clade.archive.errors import ConfigError
from clade.orchestrator.evaluators.registry import (
    BUILTINS,
    config_model,
    describe_config,
    evaluator_factory,
    load_evaluator,
)

PLUGINS = '''
from pydantic import BaseModel, ConfigDict, Field
from clade.orchestrator.evaluators.base import Score, Task


class Base:
    name = "plugin"
    def tasks(self, split):
        return [Task(id=f"{split}-1", statement="say hi")]
    def score(self, task, outputs, grader):
        return Score(score=1.0, passed=True)


class Plain(Base):
    """No Config: options are keyword arguments."""
    def __init__(self, size=1):
        self.size = size


class Configured(Base):
    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        size: int = Field(default=3, ge=1, description="How many.")
        words: list[str] = Field(default_factory=list, description="Which words.")
    def __init__(self, config=None):
        self.config = config or self.Config()


class Raises(Base):
    def __init__(self):
        raise RuntimeError("no data file")


class NotOne:
    pass
'''


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    (tmp_path / "my_plugins.py").write_text(PLUGINS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_plugins"
    sys.modules.pop("my_plugins", None)


def test_config_validates_options_and_is_passed_as_one_instance(plugins):
    built = load_evaluator(f"{plugins}:Configured", size="5", words=["a"])
    assert (built.config.size, built.config.words) == (5, ["a"])
    assert load_evaluator(f"{plugins}:Configured").config.size == 3  # no options: defaults
    with pytest.raises(ConfigError, match="colour: Extra inputs") as unknown:
        load_evaluator(f"{plugins}:Configured", colour="red")
    assert unknown.value.hint == "allowed options: size, words"
    with pytest.raises(ConfigError, match="size: Input should be greater than or equal to 1"):
        load_evaluator(f"{plugins}:Configured", size=0)


def test_plugins_without_config_get_keyword_arguments(plugins):
    assert load_evaluator(f"{plugins}:Plain", size=4).size == 4
    with pytest.raises(ConfigError, match=r"bad options.*unexpected keyword argument 'colour'"):
        load_evaluator(f"{plugins}:Plain", colour="red")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nope", "unknown evaluator 'nope'"),
        ("{p}:Raises", "failed to start: RuntimeError: no data file"),
        ("{p}:NotOne", "is not an evaluator"),
        ("{p}:Missing", "has no evaluator 'Missing'"),
        ("no_such_module.bench:Thing", "cannot import evaluator module 'no_such_module.bench'"),
    ],
)
def test_bad_plugins_give_one_clear_error(plugins, spec, message):
    with pytest.raises(ConfigError, match=message):
        load_evaluator(spec.format(p=plugins))


def test_every_builtin_declares_a_described_config():
    for name in BUILTINS:
        model = config_model(evaluator_factory(name))
        assert model is not None and model.model_config.get("extra") == "forbid", name
        for row in describe_config(model):
            assert row["description"] and row["type"], (name, row)
    rows = {r["name"]: r for r in describe_config(config_model(evaluator_factory("repo-bugfix")))}
    assert rows["variants"] == {
        "name": "variants",
        "type": "int",
        "default": "10",
        "description": "Repositories generated per template.",
    }
    assert rows["templates"]["type"] == "list[str]"


def test_listing_imports_no_evaluator():
    code = textwrap.dedent(
        """
        import json, sys
        from clade.orchestrator.evaluators.registry import available
        names = sorted(available())
        loaded = [m for m in sys.modules if m.endswith(("repo_bugfix", "humaneval", "judges.evaluator", "generated"))]
        print(json.dumps([names, loaded]))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    names, loaded = json.loads(out.stdout)
    assert {"repo-bugfix", "judge", "humaneval"} <= set(names) and loaded == []
