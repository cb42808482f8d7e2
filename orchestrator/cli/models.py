"""`clade models ...`: resolve a model name, chat with a model, serve the sandbox gateway."""

from __future__ import annotations

import typer

models_app = typer.Typer(
    help="Models: resolve names, chat, serve the sandbox gateway.", no_args_is_help=True
)


@models_app.command()
def resolve(
    name: str | None = typer.Argument(
        None, help="Model name or alias (default: the default model)."
    ),
) -> None:
    """Print the litellm name a model resolves to (shows which local engine serves an alias)."""
    from clade.orchestrator.models.routing import resolve_model

    typer.echo(resolve_model(_or_default(name)))


def _or_default(model: str | None) -> str:
    """``model``, or the configured default model (``CLADE_DEFAULT_MODEL``)."""
    from clade.orchestrator.config import settings

    return model or settings().default_model


@models_app.command()
def chat(
    prompt: str = typer.Argument(..., help="The user message."),
    model: str | None = typer.Option(
        None, "--model", "-m", help="Model name or alias (default: the default model)."
    ),
    max_tokens: int = typer.Option(128, help="Upper bound on generated tokens."),
    temperature: float = typer.Option(0.0, help="0 is greedy."),
) -> None:
    """Send one message through the model layer and print the reply and its usage."""
    from clade.orchestrator.models.layer import ModelLayer

    result = ModelLayer().complete(
        [{"role": "user", "content": prompt}],
        model=_or_default(model),
        max_tokens=max_tokens,
        temperature=temperature,
    )
    typer.echo(result.text)
    typer.secho(
        f"[{result.model}: {result.prompt_tokens}+{result.completion_tokens} tokens, "
        f"${result.cost_usd:.6f}, {result.latency_s:.2f} s]",
        err=True,
        fg="cyan",
    )


@models_app.command()
def serve(
    socket: str = typer.Option("/tmp/clade-llm/llm.sock", help="Unix socket to serve on."),
    model: str | None = typer.Option(
        None, "--model", "-m", help="Model served to callers (default: the default model)."
    ),
) -> None:
    """Serve the OpenAI-compatible gateway on a Unix socket until Ctrl-C (for agents/llm_client.py)."""
    import threading
    from pathlib import Path

    from clade.orchestrator.models.gateway import Gateway
    from clade.orchestrator.models.layer import ModelLayer
    from clade.orchestrator.models.spec import ModelsConfig, ModelSpec

    model = _or_default(model)
    layer = ModelLayer(ModelsConfig(default=ModelSpec(model=model)))
    with Gateway(layer).serve_unix(Path(socket), run_id="cli", candidate_id="cli"):
        typer.echo(f"serving {model} on {socket} (CLADE_LLM_SOCKET={socket}); Ctrl-C stops")
        threading.Event().wait()


def register(app: typer.Typer) -> None:
    """Add the `models` command group to `app`."""
    app.add_typer(models_app, name="models")
