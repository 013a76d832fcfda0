#!/usr/bin/env bash
# README command 1: set everything up (idempotent, fast when already done), then run the demo.
# Usage: bash scripts/demo.sh [demo arguments...]
set -euo pipefail

# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
bash "$ACCEL_REPO/scripts/setup.sh"
accel_env_load_venv
cd "$ACCEL_REPO"
DEMO="$VENV/lib/accel_ai_ros/demo"
if [ ! -x "$DEMO" ]; then
  echo "demo.sh: $DEMO is not installed (is the demo entry point in setup.py?)" >&2
  exit 1
fi
exec "$DEMO" "$@"
