#!/usr/bin/env bash
# Install Alsek with its test extra and run the whole suite: lint, types, tests.
# Tests that need Redis start their own redis-server on a free loopback port.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet -e '.[test]'
python -m ruff check alsek tests benchmarks examples
python -m mypy alsek
lint-imports --no-cache
# The docs site builds without a warning when the docs extra is installed
# (pip install -e '.[docs]'); CI installs it.
if python -c "import mkdocs, material, mkdocstrings_handlers.python" 2>/dev/null; then
    python -m mkdocs build --strict --site-dir "$(mktemp -d)"
else
    echo "mkdocs build --strict not run: the docs extra is not installed (pip install -e '.[docs]')"
fi
# Tests that share a Redis Cluster or a Sentinel setup are grouped (xdist_group), so
# that only one worker starts each.
python -m pytest -n 2 --dist loadgroup -p no:cacheprovider "$@"
