#!/usr/bin/env bash
# Builds nlayer's documentation site into docs/_build/html, every warning an error, executing the
# tutorials (NLAYER_TUTORIAL_QUICK=1: quick mode), then checks every internal link of the pages.
# Usage: bash docs/build.sh [OUTPUT_DIR]
set -euo pipefail
docs="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$docs/_build}"
python3 -m sphinx -E -W --keep-going -q -b html -d "$out/doctrees" "$docs" "$out/html"
python3 "$docs/check_links.py" "$out/html"
