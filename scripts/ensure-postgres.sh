#!/usr/bin/env bash
# Make sure PostgreSQL's server programs (initdb, pg_ctl, postgres) are installed: the archive's
# PostgreSQL tests start a throwaway server from them. As root on Debian: installs Debian's
# `postgresql` package when missing. Otherwise prints what to run and exits 1. Idempotent.
set -euo pipefail

present() {
  local name
  for name in initdb pg_ctl postgres; do
    command -v "$name" >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/$name" >/dev/null || return 1
  done
}

if present; then
  echo "postgresql: installed"
  exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  cat >&2 <<'MSG'
error: PostgreSQL's server programs are missing (the archive's PostgreSQL tests need initdb,
pg_ctl and postgres). On Debian or Ubuntu run:
  sudo apt-get install -y postgresql
MSG
  exit 1
fi

echo "postgresql: installing Debian's postgresql"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q postgresql >/dev/null 2>&1 || {
  apt-get update -q >/dev/null
  apt-get install -y -q postgresql >/dev/null
}
present || { echo "error: PostgreSQL's programs still missing after apt-get" >&2; exit 1; }
echo "postgresql: installed"
