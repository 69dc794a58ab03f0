#!/usr/bin/env bash
# Set up (scripts/setup.sh test) and run every check: ruff, mypy, and the whole pytest suite,
# including the slow tests with the real model, real clips, real broker and real PostgreSQL.
#   bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
. .venv/bin/activate

ruff check edge tests scripts examples
ruff format --check edge tests scripts examples
mypy

set +e
python -m pytest -q "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "test: pytest collected no tests; that is a failure" >&2
  exit 1
fi
exit "$rc"
