#!/usr/bin/env bash
# Debian's chromium for e2e/test_status_page.py (Playwright drives the system browser; no
# browser is ever downloaded by a test tool). Quiet unless it has to install something.
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
echo "browser: installing chromium from the Debian packages"
sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
