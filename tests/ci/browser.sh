#!/usr/bin/env bash
# Make sure Debian's chromium (and chromium-driver) is installed for the browser tests
# (tests/integration/test_browser_sign_in.py), which drive it through Playwright.
#
# Installs them with apt-get when chromium is missing and this runs as root (as CI does). Elsewhere it says
# what to install and carries on: the browser tests then skip with that reason, except with CI set, where they
# fail, so that they never skip silently in CI.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing chromium and chromium-driver for the browser tests (apt-get)."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium chromium-driver
    exit 0
fi
echo "chromium is missing: install it (apt-get install -y chromium chromium-driver) to run the browser tests." >&2
if [ -n "${CI:-}" ]; then
    exit 1
fi
