#!/usr/bin/env bash
# The whole test suite on a fresh machine: setup (venv, requirements, bundled model, chromium), lint, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
. .venv/bin/activate
export HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
ruff check .
python -m pytest -q "$@"
