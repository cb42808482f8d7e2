#!/usr/bin/env bash
# Build the sandbox base image (default tag clade-base:bookworm; CLADE_BASE_IMAGE overrides).
# Idempotent: does nothing when the image exists. Tries `python:3.11-slim` from a registry
# first; offline it builds a minimal Debian with python3 by debootstrap and `docker import`s it.
set -euo pipefail

image="${CLADE_BASE_IMAGE:-clade-base:bookworm}"
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "base image $image: present"
  exit 0
fi

if timeout 30 docker pull -q python:3.11-slim >/dev/null 2>&1; then
  docker tag python:3.11-slim "$image"
  echo "base image $image: tagged from python:3.11-slim"
  exit 0
fi

echo "base image $image: no registry answers; building it with debootstrap (about a minute)"
if ! command -v debootstrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -q >/dev/null && apt-get install -y -q debootstrap >/dev/null
  else
    echo "error: debootstrap is missing; install it (sudo apt-get install debootstrap) and run this again" >&2
    exit 1
  fi
fi

# The mirror and release this machine's apt already uses.
mirror=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
[ -n "$mirror" ] || mirror=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
suite=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-bookworm}")
if [ -z "$mirror" ]; then
  echo "error: no Debian mirror found in /etc/apt; set CLADE_BASE_IMAGE to an image you have" >&2
  exit 1
fi

root=$(mktemp -d /tmp/clade-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python-is-python3,procps \
  "$suite" "$root" "$mirror" >/tmp/clade-debootstrap.log 2>&1 || {
  echo "error: debootstrap failed; see /tmp/clade-debootstrap.log" >&2
  exit 1
}
# Keep the image small: no apt lists, caches or docs.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/*
tar -C "$root" -c . | docker import -c 'ENV LANG=C.UTF-8' -c 'CMD ["/bin/bash"]' - "$image" >/dev/null
echo "base image $image: built"
