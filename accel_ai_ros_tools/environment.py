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

"""What the tools need from their surroundings: the shipped config files and a loopback DDS.

Shared by the demo and the benchmarks, so that a tool started without the README's scripts
still finds the installed ``config/`` and keeps every DDS packet on this machine.
"""

import glob
import os
from pathlib import Path
import sys
from typing import Dict
from typing import Optional

PROFILE_NAME = 'fastdds_localhost.xml'
PACKAGE = 'accel_ai_ros'


def share_directory() -> Optional[Path]:
    """Return accel_ai_ros's share folder (config/, launch/), or None when it is not installed.

    The ament index finds it on a robot (colcon install) and in the virtual environment
    (scripts/env.sh sets AMENT_PREFIX_PATH); a plain ``pip install`` puts it under
    ``sys.prefix/share``.
    """
    try:
        from ament_index_python.packages import get_package_share_directory
        return Path(get_package_share_directory(PACKAGE))
    except (ImportError, LookupError, ValueError, OSError):  # OSError: no AMENT_PREFIX_PATH
        pass
    path = Path(sys.prefix) / 'share' / PACKAGE
    return path if path.is_dir() else None


def find_config(name: str) -> Optional[Path]:
    """Return the installed config/<name>, or None when it is not installed."""
    share = share_directory()
    path = share / 'config' / name if share is not None else None
    return path if path is not None and path.is_file() else None


def fast_dds_2() -> bool:
    """
    Return True when the Fast DDS found is 2.x (Humble, Jazzy: ``libfastrtps``).

    Fast DDS 2.x reads its profile only from ``FASTRTPS_DEFAULT_PROFILES_FILE``; 3.x (Kilted)
    only from ``FASTDDS_DEFAULT_PROFILES_FILE`` and warns when the old name is set.
    """
    prefixes = [sys.prefix] + os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)
    return any(glob.glob(os.path.join(prefix, 'lib', 'libfastrtps.so*'))
               for prefix in prefixes if prefix)


def configure_dds_environment() -> Dict[str, str]:
    """Keep DDS on localhost and use the shipped Fast DDS profile unless already set.

    Call before rclpy is initialised. Returns the two variables as they are now.
    """
    if not os.environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE'):
        os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    if not os.environ.get('FASTDDS_DEFAULT_PROFILES_FILE'):
        profile = find_config(PROFILE_NAME)
        if profile is not None:
            os.environ['FASTDDS_DEFAULT_PROFILES_FILE'] = str(profile)
    if os.environ.get('FASTDDS_DEFAULT_PROFILES_FILE') and fast_dds_2() \
            and not os.environ.get('FASTRTPS_DEFAULT_PROFILES_FILE'):
        os.environ['FASTRTPS_DEFAULT_PROFILES_FILE'] = os.environ['FASTDDS_DEFAULT_PROFILES_FILE']
    return {name: os.environ.get(name, '') for name in
            ('ROS_AUTOMATIC_DISCOVERY_RANGE', 'FASTDDS_DEFAULT_PROFILES_FILE')}
