# shellcheck shell=bash
# Environment shared by scripts/setup.sh, demo.sh and test.sh. Source it, don't run it:
#   source scripts/env.sh
# Sets REPO, VENV, PYTHON; keeps DDS on this machine; points ament and ROS at the venv.

ACCEL_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ACCEL_REPO
export VENV="${VENV:-$ACCEL_REPO/.venv}"
VENV="$(mkdir -p "$(dirname "$VENV")" && cd "$(dirname "$VENV")" && pwd)/$(basename "$VENV")"
export VENV

# DDS: discovery and data only on loopback, through our Fast DDS profile (32 MB shared memory
# segment, UDP limited to 127.0.0.1): full-HD frames between processes need it.
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
if [ -f "$ACCEL_REPO/config/fastdds_localhost.xml" ]; then
  export FASTDDS_DEFAULT_PROFILES_FILE="${FASTDDS_DEFAULT_PROFILES_FILE:-$ACCEL_REPO/config/fastdds_localhost.xml}"
  # Fast DDS 2.x (Humble, Jazzy: libfastrtps) reads only the older name; 3.x warns about it.
  if compgen -G "$VENV/lib/libfastrtps.so*" >/dev/null; then
    export FASTRTPS_DEFAULT_PROFILES_FILE="${FASTRTPS_DEFAULT_PROFILES_FILE:-$FASTDDS_DEFAULT_PROFILES_FILE}"
  fi
fi

# Load what depends on the venv existing (run again after scripts/setup.sh has created it).
accel_env_load_venv() {
  [ -x "$VENV/bin/python" ] || return 0
  export VIRTUAL_ENV="$VENV"
  case ":$PATH:" in
    *":$VENV/bin:"*) ;;
    *) export PATH="$VENV/bin:$PATH" ;;
  esac
  # The package's executables (where `ros2 run accel_ai_ros <name>` finds them), so that
  # `benchmark`, `make_variants`, `build_engine`, ... are typed as the README prints them.
  case ":$PATH:" in
    *":$VENV/lib/accel_ai_ros:"*) ;;
    *) export PATH="$VENV/lib/accel_ai_ros:$PATH" ;;
  esac
  # The venv is the ament prefix: share/ament_index, lib/<pkg>/ executables, lib/*.so.
  case ":${AMENT_PREFIX_PATH:-}:" in
    *":$VENV:"*) ;;
    *) export AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}" ;;
  esac
  # The ROS wheels' libraries: what ros_wheels_bootstrapper would put in LD_LIBRARY_PATH
  # before re-executing every Python process. setup.sh asks the bootstrapper for the value
  # and caches it; with it set up front (and its guard set) no process pays the re-exec.
  local cache="$VENV/.accel_ai_ros/ld_library_path"
  if [ -s "$cache" ]; then
    local part add=''
    local IFS=':'
    for part in $(cat "$cache"); do
      case ":${LD_LIBRARY_PATH:-}:$add:" in
        *":$part:"*) ;;
        *) add="${add:+$add:}$part" ;;
      esac
    done
    unset IFS
    if [ -n "$add" ]; then
      export LD_LIBRARY_PATH="$add${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
    if [ -s "$VENV/.accel_ai_ros/bootstrap_guard" ]; then
      export "$(cat "$VENV/.accel_ai_ros/bootstrap_guard")=1"
    fi
  fi
}
accel_env_load_venv
