"""How many tokens a prompt holds, before the call: what a budget reservation rests on.

:func:`prompt_bound` is a safe upper bound for any byte-level tokenizer (BPE with byte
fallback, SentencePiece, tiktoken): a token covers at least one byte of text, so a prompt
has at most as many tokens as its UTF-8 bytes, plus what the chat template adds
(:data:`TEMPLATE_TOKENS` per chat, :data:`MESSAGE_TOKENS` per message, generous for the
templates in use: SmolLM2's inserts a 17-token system prompt). It costs a pass over the
text. :func:`prompt_tokens` counts exactly, with the model's own tokenizer, where that is
cheap: a loaded local engine (prompts up to :data:`EXACT_MAX_BYTES`) or a scripted model
(a word is a token). The layer reserves the bound and counts exactly only when the bound
does not fit what a budget has left, so near the end of a budget no call is refused that
would have fit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: Tokens a chat template may add around the messages (system prompt, generation prompt).
TEMPLATE_TOKENS = 64
#: Tokens a chat template may add per message (role markers, separators).
MESSAGE_TOKENS = 8
#: Longest prompt (UTF-8 bytes) that is tokenized exactly for a reservation.
EXACT_MAX_BYTES = 1 << 20


def message_text(message: Mapping[str, Any]) -> str:
    """The text a message puts in the prompt: its role, name and content (text parts)."""
    content = message.get("content")
    if isinstance(content, list):
        parts = [str(p.get("text") or "") for p in content if isinstance(p, Mapping)]
        content = "".join(parts)
    name = message.get("name")
    return f"{message.get('role', '')}{name or ''}{content or ''}"


def prompt_bytes(messages: Sequence[Mapping[str, Any]]) -> int:
    return sum(len(message_text(m).encode("utf-8", "surrogatepass")) for m in messages)


def prompt_bound(messages: Sequence[Mapping[str, Any]]) -> int:
    """An upper bound on the prompt tokens of ``messages`` under any byte-level tokenizer."""
    return prompt_bytes(messages) + TEMPLATE_TOKENS + MESSAGE_TOKENS * len(messages)


def prompt_tokens(resolved: str, messages: Sequence[Mapping[str, Any]], options: Any) -> int | None:
    """The exact prompt tokens of ``messages`` for the litellm model ``resolved``, where the
    model's tokenizer is at hand and cheap; None otherwise (API models, an engine not
    loaded yet, a prompt over :data:`EXACT_MAX_BYTES`)."""
    provider, _, name = resolved.partition("/")
    if provider == "scripted":
        from clade.orchestrator.models.scripted import prompt_tokens as scripted_tokens

        return scripted_tokens(messages)
    if prompt_bytes(messages) > EXACT_MAX_BYTES:
        return None
    from clade.orchestrator.models.routing import LOCAL_PROVIDERS, find_engine

    if provider not in LOCAL_PROVIDERS:
        return None
    engine = find_engine(provider, name, options)
    count = getattr(engine, "count_tokens", None)
    if count is None:
        return None
    try:
        counted = count(messages)
    except Exception:  # a tokenizer that fails here fails the call itself, with its reason
        return None
    return int(counted) if counted is not None else None
