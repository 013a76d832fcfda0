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

"""Replay a rosbag2 recording in a loop (ros2 bag play) into the inference node, on bag time.

    ros2 launch accel_ai_ros rosbag.launch.py bag:=/path/to/bag_folder \
        image:=/camera/image_raw params_file:=/path/to/my.yaml

``ros2 bag play --loop --clock`` publishes the recorded topics with their recorded QoS and
/clock; the node runs with ``use_sim_time``. For a bag that holds only
<image>/compressed, give ``input_transport:=compressed``. When the replay stops (a wrong
bag), the launch ends. Needs ``sudo apt install ros-$ROS_DISTRO-rosbag2``.
Every argument of inference.launch.py applies too (``--show-args`` lists them).
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.actions import ExecuteProcess
from launch.actions import IncludeLaunchDescription
from launch.actions import SetLaunchConfiguration
from launch.actions import Shutdown
from launch.conditions import UnlessCondition
from launch.substitutions import LaunchConfiguration
from launch.substitutions import PathJoinSubstitution
from launch_ros.substitutions import FindPackagePrefix
from launch_ros.substitutions import FindPackageShare


def generate_launch_description() -> LaunchDescription:
    """Describe the replay's settings, the base launch file, then ros2 bag play."""
    return LaunchDescription([
        DeclareLaunchArgument('bag', default_value='',
                              description='rosbag2 folder (or file) to replay'),
        DeclareLaunchArgument('rate', default_value='1.0',
                              description='Replay speed factor'),
        DeclareLaunchArgument('image', default_value='/camera/image_raw',
                              description='Recorded image topic the node subscribes to'),
        DeclareLaunchArgument('input_transport', default_value='raw',
                              description='raw, or compressed for a bag of <image>/compressed'),
        DeclareLaunchArgument('use_sim_time', default_value='true',
                              description='Run the node on the /clock that the replay publishes'),
        DeclareLaunchArgument('stand_in_reliability', default_value='reliable',
                              description="The stand-in's QoS: reliable, as most recordings"),
        DeclareLaunchArgument('camera_stand_in', default_value='false',
                              description="true: accel_ai_ros's image_source publishes on "
                                          "<image> with the driver's QoS instead of the driver"),
        IncludeLaunchDescription(PathJoinSubstitution([
            FindPackageShare('accel_ai_ros'), 'launch', 'fastdds.launch.py'])),
        # Where rosbag2 is missing, this fails the launch at once with one line naming it,
        # before any process starts.
        SetLaunchConfiguration('rosbag2_prefix', FindPackagePrefix('rosbag2'),
                               condition=UnlessCondition(LaunchConfiguration('camera_stand_in'))),
        ExecuteProcess(
            cmd=['ros2', 'bag', 'play', LaunchConfiguration('bag'), '--loop', '--clock',
                 '--rate', LaunchConfiguration('rate')],
            name='ros2_bag_play',
            condition=UnlessCondition(LaunchConfiguration('camera_stand_in')),
            on_exit=Shutdown(reason='ros2 bag play stopped: check the bag argument'),
            output='screen',
        ),
        IncludeLaunchDescription(
            PathJoinSubstitution([FindPackageShare('accel_ai_ros'), 'launch',
                                  'inference.launch.py']),
            launch_arguments={
                'stand_in_transport': LaunchConfiguration('input_transport'),
            }.items()),
    ])
