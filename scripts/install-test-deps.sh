#!/usr/bin/env bash
# Install what the browser test (tests/browser.rs) needs when it is missing: Debian's
# headless Chromium and its WebDriver. Safe to run again; does nothing when both exist.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if have chromium && have chromedriver; then
    echo "install-test-deps: chromium and chromedriver present"
    exit 0
fi
if ! have apt-get; then
    echo "install-test-deps: no apt-get here; install chromium and chromedriver yourself" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
echo "install-test-deps: installed $(chromium --version 2>/dev/null || echo chromium)"
