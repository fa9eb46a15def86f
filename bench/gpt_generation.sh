#!/usr/bin/env bash
# The GPT generation benchmark in its own environment (keras-hub is not a kerasgen dependency).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv bench/.venv
bench/.venv/bin/pip install -q . keras-hub
bench/.venv/bin/python bench/gpt_generation.py "$@"
