#!/usr/bin/env bash
# Install what the tests need when it is missing. Safe to run again; does nothing when
# everything is there.
#   scripts/install-test-deps.sh           the browser test (tests/browser.rs): Debian's
#                                          headless Chromium and its WebDriver
#   scripts/install-test-deps.sh aarch64   the NEON kernel check (scripts/check-aarch64.sh):
#                                          the Rust target aarch64-unknown-linux-gnu, the
#                                          aarch64 cross linker and qemu-user
#   scripts/install-test-deps.sh qemu      the emulated x86 CPUs (scripts/check-x86-cpus.sh):
#                                          qemu-user
# Exits 1 when something could not be installed; the callers decide what that means.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

apt_install() {
    if ! have apt-get; then
        echo "install-test-deps: no apt-get here; install $* yourself" >&2
        return 1
    fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

case "${1:-browser}" in
browser)
    if have chromium && have chromedriver; then
        echo "install-test-deps: chromium and chromedriver present"
        exit 0
    fi
    apt_install chromium chromium-driver fonts-dejavu-core
    echo "install-test-deps: installed $(chromium --version 2>/dev/null || echo chromium)"
    ;;
aarch64)
    target=aarch64-unknown-linux-gnu
    status=0
    if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
        if have rustup && rustup target add "$target" >/dev/null 2>&1; then
            echo "install-test-deps: installed the Rust target $target"
        else
            echo "install-test-deps: could not install the Rust target $target" >&2
            status=1
        fi
    fi
    if ! have aarch64-linux-gnu-gcc || ! have qemu-aarch64; then
        if apt_install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user; then
            echo "install-test-deps: installed the aarch64 cross linker and qemu-user"
        else
            echo "install-test-deps: could not install gcc-aarch64-linux-gnu," \
                "libc6-dev-arm64-cross and qemu-user" >&2
            status=1
        fi
    fi
    exit $status
    ;;
qemu)
    if have qemu-x86_64; then
        echo "install-test-deps: qemu-x86_64 present"
        exit 0
    fi
    apt_install qemu-user
    echo "install-test-deps: installed qemu-user"
    ;;
*)
    echo "install-test-deps: unknown argument '$1' (expected: browser, aarch64 or qemu)" >&2
    exit 2
    ;;
esac
