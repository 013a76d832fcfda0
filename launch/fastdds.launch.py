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

"""Apply the shipped Fast DDS profile to every process started after this file.

The profile enlarges Fast DDS's shared-memory segment (its 512 KB default drops 640x480 and
larger frames between processes) and keeps UDP on 127.0.0.1. inference.launch.py includes
this first; a camera launch file includes it before it starts the driver, so the driver and
the node share the profile.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.actions import SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch.substitutions import PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare


def generate_launch_description() -> LaunchDescription:
    """Describe the profile argument and set FASTDDS_DEFAULT_PROFILES_FILE from it."""
    return LaunchDescription([
        DeclareLaunchArgument(
            'fastdds_profile',
            default_value=PathJoinSubstitution([FindPackageShare('accel_ai_ros'), 'config',
                                                'fastdds_localhost.xml']),
            description='Fast DDS XML profile for every process started from here on; the '
                        'shipped one enlarges shared memory for large images and keeps UDP on '
                        '127.0.0.1 (give your own for a multi-machine robot)'),
        SetEnvironmentVariable('FASTDDS_DEFAULT_PROFILES_FILE',
                               LaunchConfiguration('fastdds_profile')),
    ])
