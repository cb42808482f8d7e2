"""Where a run's children are worked on (run option ``execution``; docs/SCALING.md)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ExecutionOptions(BaseModel):
    """Where children are worked on: in this process (local), or as Ray tasks on the nodes
    of a Ray cluster (ray; docs/SCALING.md)."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["local", "ray"] = Field(
        default="local",
        description="local: threads of this process (up to `parallelism`); ray: each child "
        "(and the seed) is a Ray task on a worker node with its own Docker engine.",
    )
    address: str = Field(
        default="auto",
        description="The Ray cluster: auto (the one started on this host by `ray start`), "
        "ray://host:port (Ray Client), or host:port (the head's GCS address).",
    )
    docker: float = Field(
        default=1.0,
        ge=0,
        description="Units of the custom `docker` Ray resource each child holds (a worker "
        "started with --resources '{\"docker\": N}' works on N children at once).",
    )
    cpus: float = Field(default=1.0, ge=0, description="Ray CPUs each child holds.")
    max_retries: int = Field(
        default=3,
        ge=0,
        le=100,
        description="Times Ray runs a child again elsewhere when its worker or node dies "
        "(a child is idempotent by its key: nothing is lost, nothing evaluated twice).",
    )

    blobs: Literal["shipped", "shared"] = Field(
        default="shipped",
        description="shipped: each worker keeps its own blob cache and reads trees and logs "
        "it lacks from the orchestrator's blob folder by content hash (and sends what it "
        "writes there), over Ray; shared: every node sees the orchestrator's blob folder at "
        "the same path (one host, or a shared file system) and uses it directly.",
    )

    @field_validator("address")
    @classmethod
    def _an_address(cls, value: str) -> str:
        if not re.fullmatch(r"auto|(ray://)?[A-Za-z0-9_.\-]+:[0-9]{1,5}", value):
            raise ValueError(f"expected auto, ray://host:port or host:port, got {value!r}")
        return value
