#!/usr/bin/env bash
# Make sure headless Chromium and its WebDriver are installed (the dashboard's browser tests
# drive them). As root on Debian: installs chromium and chromium-driver with apt when missing.
# Otherwise prints exactly what to run and exits 1. Idempotent and quiet when already there.
set -euo pipefail

present() { [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; }

if present; then
  echo "headless browser: installed"
  exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  cat >&2 <<'MSG'
error: headless Chromium is missing (the dashboard's browser tests need /usr/bin/chromium and
/usr/bin/chromedriver). On Debian or Ubuntu run:
  sudo apt-get install -y chromium chromium-driver
MSG
  exit 1
fi

echo "headless browser: installing Debian's chromium and chromium-driver"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || {
  apt-get update -q >/dev/null
  apt-get install -y -q chromium chromium-driver >/dev/null
}
present || { echo "error: chromium or chromedriver still missing after apt-get" >&2; exit 1; }
echo "headless browser: installed"
