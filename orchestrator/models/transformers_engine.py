"""The in-process transformers engine: safetensors folders, hub ids, or GGUF files.

``load_engine(path, device="auto", dtype="auto", context_length=None, batch_window_ms=20,
rejoin_ms=100, max_batch_size=8, prepack=True)``. A GGUF is converted once (see :mod:`convert`).
Requests that arrive together are generated as one left-padded ``generate`` by a
:class:`BatchWorker`; greedy requests share batches, sampled ones share a batch only with the
same temperature and top_p, and seeded ones run alone so a seed gives the same text every time.
On CPU in fp32, ``prepack`` packs the linear weights for oneDNN once at load, so a decode
step of 4 rows costs ~1.4x one row's instead of ~1.7x (see :mod:`cpu_kernels`).
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from clade.orchestrator.models.batching import BatchWorker, Job
from clade.orchestrator.models.engine import Generation, SamplingParams
from clade.orchestrator.models.errors import ModelError
from clade.orchestrator.models.scheduling import EngineFuture, EngineStats
from clade.orchestrator.models.speed import SpeedMeter

_DTYPES = {"float32", "bfloat16", "float16"}


@dataclass
class _Request:
    ids: list[int]
    params: SamplingParams


def _group_key(req: _Request) -> Hashable:
    p = req.params
    if p.seed is not None:
        return ("seeded", id(req))
    return ("greedy",) if p.temperature == 0 else ("sample", p.temperature, p.top_p)


class TransformersEngine:
    """A causal LM loaded with transformers; thread-safe, batches concurrent calls.

    No grammar: a ``json_schema`` in the sampling parameters is not enforced (the caller's
    prompt must ask for the format). ``stats`` and ``speed`` as on the llama.cpp engine.
    """

    def __init__(
        self,
        path: str,
        *,
        device: str = "auto",
        dtype: str = "auto",
        context_length: int | None = None,
        batch_window_ms: float = 20.0,
        rejoin_ms: float = 100.0,
        max_batch_size: int = 8,
        prepack: bool = True,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if dtype != "auto" and dtype not in _DTYPES:
            raise ModelError(
                f"unknown dtype {dtype!r}", hint=f"use auto or one of {sorted(_DTYPES)}"
            )
        self.device = (
            ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
        )
        if dtype == "auto":
            dtype = "bfloat16" if self.device.startswith("cuda") else "float32"
        self.dtype = dtype
        self.name = f"transformers/{path}"
        source, local = self._source(path)
        self.tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local)
        self.tokenizer.padding_side = "left"
        model: Any = AutoModelForCausalLM.from_pretrained(
            source, dtype=getattr(torch, dtype), local_files_only=local
        )
        self.model = model.to(self.device).eval()
        self.prepacked = False
        if prepack:
            from clade.orchestrator.models import cpu_kernels

            if cpu_kernels.prepack_supported(self.device, dtype):
                self.prepacked = cpu_kernels.prepack_linears(self.model) > 0
        limit = getattr(model.config, "max_position_embeddings", None) or 2048
        self.context_length = min(context_length or limit, limit)
        eos = model.generation_config.eos_token_id
        eos = eos if eos is not None else self.tokenizer.eos_token_id
        self.eos_ids: set[int] = set(eos if isinstance(eos, list) else [eos])
        pad = self.tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else min(self.eos_ids))
        self._torch = torch
        self.stats = EngineStats()
        self.speed = SpeedMeter()
        self._worker: BatchWorker[_Request] = BatchWorker(
            self._run_group,
            _group_key,
            window_s=batch_window_ms / 1000,
            rejoin_s=rejoin_ms / 1000,
            max_batch=max_batch_size,
        )

    @staticmethod
    def _source(path: str) -> tuple[str, bool]:
        p = Path(path).expanduser()
        if p.suffix == ".gguf":
            if not p.is_file():
                raise ModelError(
                    f"GGUF file {p} not found", hint="check the path after transformers/"
                )
            from clade.orchestrator.models.convert import converted_dir

            return str(converted_dir(p)), True
        if p.is_dir():
            return str(p), True
        return path, False  # a hub id: transformers honours HF_HUB_OFFLINE itself

    def _ids(self, messages: Sequence[Mapping[str, Any]]) -> list[int]:
        text = self.tokenizer.apply_chat_template(
            [dict(m) for m in messages], add_generation_prompt=True, tokenize=False
        )
        ids: list[int] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids

    def count_tokens(self, messages: Sequence[Mapping[str, Any]]) -> int | None:
        """Prompt tokens of ``messages`` under the model's chat template."""
        return len(self._ids(messages))

    @property
    def abandoned_tokens(self) -> int:
        """Tokens generated for callers that had gone (a cancelled row stops at once: 0)."""
        return self.stats.abandoned_tokens

    def encode(self, messages: Sequence[Mapping[str, Any]]) -> list[int]:
        """Prompt token ids of ``messages`` under the model's chat template."""
        ids = self._ids(messages)
        if len(ids) >= self.context_length:
            raise ModelError(
                f"prompt of {len(ids)} tokens does not fit the context of {self.context_length}",
                hint="shorten the prompt or raise engine_options.context_length",
            )
        return ids

    def submit(
        self, messages: Sequence[Mapping[str, Any]], params: SamplingParams, priority: int = 0
    ) -> EngineFuture:
        """Queue a request (higher ``priority`` first); cancelling the future stops its row
        at the next token."""
        return self._worker.submit(_Request(self.encode(messages), params), priority)

    def generate(
        self, messages: Sequence[Mapping[str, Any]], params: SamplingParams, priority: int = 0
    ) -> Generation:
        result: Generation = self.submit(messages, params, priority).result()
        return result

    def close(self, wait_s: float = 0.0) -> None:
        """Stop the batch worker (the batch running finishes: rows stop at their limits)."""
        self._worker.close()

    def _run_group(self, jobs: list[Job[_Request]]) -> None:
        torch = self._torch
        reqs = [job.item for job in jobs]
        width = max(len(r.ids) for r in reqs)
        ids = [[self.pad_id] * (width - len(r.ids)) + r.ids for r in reqs]
        mask = [[0] * (width - len(r.ids)) + [1] * len(r.ids) for r in reqs]
        budget = self.context_length - width
        limits = [min(r.params.max_tokens, budget) for r in reqs]
        stopper = _RowStopper(self, jobs, width, limits)
        p = reqs[0].params
        sampling: dict[str, Any] = {"do_sample": False}
        if p.temperature > 0:
            sampling = {
                "do_sample": True,
                "temperature": p.temperature,
                "top_p": p.top_p,
                "top_k": 0,
            }
            if p.seed is not None:
                torch.manual_seed(p.seed)
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=torch.tensor(ids, device=self.device),
                attention_mask=torch.tensor(mask, device=self.device),
                max_new_tokens=max(limits),
                stopping_criteria=[stopper],
                pad_token_id=self.pad_id,
                eos_token_id=sorted(self.eos_ids),
                **sampling,
            )
        self._account(jobs, stopper)
        for i, job in enumerate(jobs):
            new = out[i, width:].tolist()
            n = stopper.ends[i] if stopper.ends[i] is not None else len(new)
            tokens = new[:n]
            keep = [t for t in tokens if t not in self.eos_ids]
            text = str(self.tokenizer.decode(keep, skip_special_tokens=True))
            finish: Literal["stop", "length"] = "stop" if stopper.reasons[i] == "stop" else "length"
            for s in job.item.params.stop:
                if s in text:
                    text, finish = text[: text.index(s)], "stop"
            if not job.future.done():
                gen = Generation(
                    text=text,
                    prompt_tokens=len(job.item.ids),
                    completion_tokens=len(tokens),
                    finish_reason=finish,
                )
                job.future.set_result(gen)

    def _account(self, jobs: list[Job[_Request]], stopper: _RowStopper) -> None:
        ends = [n or 0 for n in stopper.ends]
        cancelled = [r == "cancelled" for r in stopper.reasons]
        self.stats.add(requests=len(jobs), cancelled=sum(cancelled), tokens_generated=sum(ends))
        first = stopper.first_token_at
        for i, job in enumerate(jobs):
            ended = stopper.ended_at[i]
            if first is None or ended is None or cancelled[i]:
                continue
            self.speed.observe(
                len(job.item.ids), first - stopper.started, ends[i] - 1, ended - first
            )


class _RowStopper:
    """Stopping criterion per row: end of sequence, stop string, own max_tokens, cancelled."""

    def __init__(
        self, engine: TransformersEngine, jobs: list[Job[_Request]], width: int, limits: list[int]
    ) -> None:
        self.engine = engine
        self.jobs = jobs
        self.width = width
        self.limits = limits
        self.ends: list[int | None] = [None] * len(jobs)
        self.reasons: list[str] = [""] * len(jobs)
        self.started = time.monotonic()
        self.first_token_at: float | None = None  # prompt processed: the first token is out
        self.ended_at: list[float | None] = [None] * len(jobs)

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        torch = self.engine._torch
        now = time.monotonic()
        if self.first_token_at is None:
            self.first_token_at = now
        n = input_ids.shape[1] - self.width
        last = input_ids[:, -1].tolist()
        for i, job in enumerate(self.jobs):
            if self.ends[i] is not None:
                continue
            stops = job.item.params.stop
            if last[i] in self.engine.eos_ids or (
                stops and self._hit_stop(input_ids[i, self.width :], stops)
            ):
                self.ends[i], self.reasons[i] = n, "stop"
            elif n >= self.limits[i]:
                self.ends[i], self.reasons[i] = n, "length"
            elif job.future.cancelled():
                self.ends[i], self.reasons[i] = n, "cancelled"
            if self.ends[i] is not None:
                self.ended_at[i] = now
        done = [end is not None for end in self.ends]
        return torch.tensor(done, device=input_ids.device, dtype=torch.bool)

    def _hit_stop(self, row: Any, stops: list[str]) -> bool:
        tail = self.engine.tokenizer.decode(row[-(max(len(s) for s in stops) + 4) :].tolist())
        return any(s in tail for s in stops)


def load_engine(path: str, **options: Any) -> TransformersEngine:
    """Load ``path`` (GGUF file, model folder or hub id); options as in :class:`TransformersEngine`."""
    allowed = {
        "device",
        "dtype",
        "context_length",
        "batch_window_ms",
        "rejoin_ms",
        "max_batch_size",
        "prepack",
    }
    unknown = set(options) - allowed
    if unknown:
        raise ModelError(
            f"unknown transformers engine option(s): {', '.join(sorted(unknown))}",
            hint=f"use {', '.join(sorted(allowed))}",
        )
    return TransformersEngine(path, **options)
