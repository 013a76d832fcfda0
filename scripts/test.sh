#!/usr/bin/env bash
# README command 2: set up what is missing (with the test and lint tools), then run every
# test, lints included. Extra arguments go to pytest, e.g. bash scripts/test.sh -k lint -x
set -euo pipefail

# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
bash "$ACCEL_REPO/scripts/setup.sh" --dev
accel_env_load_venv
cd "$ACCEL_REPO"
export TENSORRT_STUBS_DIR="${TENSORRT_STUBS_DIR:-$VENV/trt-stubs}"
# A private DDS domain per run, so that parallel runs on one machine never see each other.
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$((100 + RANDOM % 101))}"
echo "[test] ROS_DOMAIN_ID=$ROS_DOMAIN_ID  $VENV/bin/python -m pytest test -q $*"
exec "$VENV/bin/python" -m pytest test -q "$@"
