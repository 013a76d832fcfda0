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

"""Start one accel_ai_ros inference node on a camera topic.

Example, with the demo's digit classifier:

    ros2 launch accel_ai_ros inference.launch.py \
        params_file:=$(ros2 pkg prefix accel_ai_ros)/share/accel_ai_ros/config/demo.yaml \
        model_dir:=$HOME/models/demo image:=/camera/image_raw precision:=fp16

``ros2 launch accel_ai_ros inference.launch.py --show-args`` lists every argument.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.actions import SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch.substitutions import PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def generate_launch_description() -> LaunchDescription:
    """Describe the node, its parameter file, remap, namespace and precision."""
    share = FindPackageShare('accel_ai_ros')
    return LaunchDescription([
        DeclareLaunchArgument(
            'params_file',
            default_value=PathJoinSubstitution([share, 'config', 'defaults.yaml']),
            description='Parameter file naming the engines per precision and the task'),
        DeclareLaunchArgument(
            'model_dir', default_value='',
            description='Folder that relative engine and labels paths are resolved against'),
        DeclareLaunchArgument(
            'precision', default_value='fp32',
            description='Precision to start with: fp32, fp16 or int8 (must be configured)'),
        DeclareLaunchArgument(
            'image', default_value='image',
            description='Camera image topic (sensor_msgs/Image) the node subscribes to'),
        DeclareLaunchArgument(
            'namespace', default_value='',
            description='Namespace of the node and its topics'),
        DeclareLaunchArgument(
            'node_name', default_value='inference_node', description='Name of the node'),
        DeclareLaunchArgument(
            'fastdds_profile',
            default_value=PathJoinSubstitution([share, 'config', 'fastdds_localhost.xml']),
            description='Fast DDS XML profile; the shipped one enlarges shared memory for '
                        'large images and keeps UDP on 127.0.0.1 (give your own for a '
                        'multi-machine robot)'),
        SetEnvironmentVariable('FASTDDS_DEFAULT_PROFILES_FILE',
                               LaunchConfiguration('fastdds_profile')),
        Node(
            package='accel_ai_ros',
            executable='inference_node',
            name=LaunchConfiguration('node_name'),
            namespace=LaunchConfiguration('namespace'),
            parameters=[LaunchConfiguration('params_file'),
                        {'model_dir': LaunchConfiguration('model_dir'),
                         'precision': LaunchConfiguration('precision')}],
            remappings=[('image', LaunchConfiguration('image')),
                        ('image/compressed', [LaunchConfiguration('image'), '/compressed'])],
            output='screen',
            emulate_tty=True,
        ),
    ])
