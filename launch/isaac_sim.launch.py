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

"""The inference node on Isaac Sim's ROS 2 camera (its RGB topic), on simulation time.

    ros2 launch accel_ai_ros isaac_sim.launch.py image:=/rgb params_file:=/path/to/my.yaml

Isaac Sim's ROS2 Camera Helper (isaacsim.ros2.nodes; topicName default rgb, frameId
sim_camera, QoS reliable, keep last 10) publishes the RGB image; add a ROS2 Publish Clock
node to the action graph so that /clock runs. Isaac Sim itself is started separately, so
this launch file starts no driver. Every argument of inference.launch.py applies too.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.actions import IncludeLaunchDescription
from launch.substitutions import PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare


def generate_launch_description() -> LaunchDescription:
    """Describe the simulator's topic and clock, then the base launch file."""
    return LaunchDescription([
        DeclareLaunchArgument('image', default_value='/rgb',
                              description="The Camera Helper's RGB topic: <nodeNamespace>/"
                                          '<topicName>, rgb by default'),
        DeclareLaunchArgument('use_sim_time', default_value='true',
                              description='Run the node on /clock (ROS2 Publish Clock)'),
        DeclareLaunchArgument('stand_in_reliability', default_value='reliable',
                              description="The stand-in's QoS: reliable, as the Camera Helper"),
        IncludeLaunchDescription(
            PathJoinSubstitution([FindPackageShare('accel_ai_ros'), 'launch',
                                  'inference.launch.py']),
            launch_arguments={'input_transport': 'raw'}.items()),
    ])
