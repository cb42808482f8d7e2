"""Process-wide settings, read from the environment (prefix ``CLADE_``).

Run-specific options (models per role, budgets, evaluators) belong to a run's YAML
config; this module holds only what every command shares: where the archive lives, which
image sandboxes use, which model is the embedded default.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CladeSettings(BaseSettings):
    """Settings shared by every Clade command. Each field is also an env var ``CLADE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="CLADE_", extra="ignore")

    home: Path = Field(
        default=Path(".clade"),
        description="Folder for the archive, blobs, checkpoints and sockets (relative to the working directory).",
    )
    db_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the archive; default: SQLite at <home>/clade.db. "
        "PostgreSQL: postgresql+psycopg://user:pass@host/db.",
    )
    base_image: str = Field(
        default="clade-base:bookworm",
        description="Docker image the sandbox image is built on (made by scripts/build-base-image.sh).",
    )
    default_model: str = Field(
        default="smollm2-135m",
        description="Model used for every role a run config leaves unset.",
    )
    local_backend: Literal["auto", "transformers", "llamacpp"] = Field(
        default="auto",
        description="Which engine serves local GGUF models: auto picks llama.cpp on CPU when installed.",
    )

    @property
    def archive_url(self) -> str:
        """The archive's database URL, SQLite under ``home`` unless ``db_url`` is set."""
        return self.db_url or f"sqlite:///{self.home / 'clade.db'}"


@lru_cache(maxsize=1)
def settings() -> CladeSettings:
    """The settings of this process, read once from the environment."""
    return CladeSettings()
