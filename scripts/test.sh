#!/usr/bin/env bash
# Install Alsek with its test extra and run the whole suite: lint, types, tests.
# Tests that need Redis start their own redis-server on a free loopback port.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet -e '.[test]'
python -m ruff check alsek tests benchmarks examples
python -m mypy alsek
lint-imports --no-cache
python -m pytest -n 2 -p no:cacheprovider "$@"
