#!/usr/bin/env bash
# Make sure a Docker engine answers. As root on Debian: installs docker.io and starts dockerd
# when needed. Otherwise prints exactly what to do and exits 1.
set -euo pipefail

engine_up() { timeout 10 docker info >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && engine_up; then
  echo "docker engine: running"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  cat >&2 <<'MSG'
error: no Docker engine answers, and installing one needs root. Do one of:
  - sudo apt-get install -y docker.io && sudo systemctl start docker && sudo usermod -aG docker "$USER" (then log in again)
  - start Docker Desktop / your Docker service, and check that `docker info` works
MSG
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "docker engine: installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q docker.io >/dev/null
fi

if ! engine_up; then
  echo "docker engine: starting dockerd (log: /var/log/clade-dockerd.log)"
  # systemd is absent in most containers; start the daemon directly.
  setsid nohup dockerd >/var/log/clade-dockerd.log 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    engine_up && break
    sleep 1
  done
fi

if ! engine_up; then
  echo "error: dockerd did not start; see /var/log/clade-dockerd.log" >&2
  exit 1
fi
echo "docker engine: running"
