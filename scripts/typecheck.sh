#!/usr/bin/env bash
# mypy over the installed names (clade.orchestrator, ...). The editable install maps them
# with an import hook that mypy cannot follow, so a farm of symlinks under build/ gives mypy
# the same `clade/<part>` layout the wheel has; cross-part imports are then type-checked.
set -euo pipefail
cd "$(dirname "$0")/.."
farm=build/typecheck
mkdir -p "$farm/clade"
parts=(agents orchestrator archive sandbox prompts)
args=()
for part in "${parts[@]}"; do
  ln -sfn "../../../$part" "$farm/clade/$part"
  args+=(-p "clade.$part")
done
cd "$farm"
exec ../../.venv/bin/mypy --config-file ../../pyproject.toml "${args[@]}"
