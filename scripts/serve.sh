#!/usr/bin/env bash
# Start the playground on http://127.0.0.1:7860 with the bundled model (setup included).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1} GRADIO_ANALYTICS_ENABLED=False
exec python app.py "$@"
