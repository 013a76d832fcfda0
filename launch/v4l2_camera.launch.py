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

"""A V4L2 camera through v4l2_camera's v4l2_camera_node, and the inference node on it.

    ros2 launch accel_ai_ros v4l2_camera.launch.py video_device:=/dev/video0 \
        image_width:=640 image_height:=480 framerate:=30 pixel_format:=YUYV \
        params_file:=/path/to/my.yaml

v4l2_camera (README of 0.6.x; parameters unchanged up to 0.8.0) publishes /image_raw,
reliable (image_transport's default QoS), converted to output_encoding. Needs
``sudo apt install ros-$ROS_DISTRO-v4l2-camera``. Every argument of inference.launch.py
applies too (``--show-args`` lists them).
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.actions import IncludeLaunchDescription
from launch.conditions import UnlessCondition
from launch.substitutions import LaunchConfiguration
from launch.substitutions import PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare


def generate_launch_description() -> LaunchDescription:
    """Describe v4l2_camera's settings, the base launch file, then the driver."""
    return LaunchDescription([
        DeclareLaunchArgument('video_device', default_value='/dev/video0',
                              description='V4L2 device of the camera'),
        DeclareLaunchArgument('image_width', default_value='640',
                              description='Frame width in pixels'),
        DeclareLaunchArgument('image_height', default_value='480',
                              description='Frame height in pixels'),
        DeclareLaunchArgument('framerate', default_value='30',
                              description='Frames per second (an integer: time_per_frame 1/N)'),
        DeclareLaunchArgument('pixel_format', default_value='YUYV',
                              description='FOURCC the camera delivers: YUYV, UYVY, GREY, ...'),
        DeclareLaunchArgument('output_encoding', default_value='rgb8',
                              description='Encoding v4l2_camera publishes: rgb8, yuv422 or mono8'),
        DeclareLaunchArgument('image', default_value='/image_raw',
                              description="v4l2_camera's topic (image_raw in its namespace)"),
        DeclareLaunchArgument('stand_in_reliability', default_value='reliable',
                              description="The stand-in's QoS: reliable, as v4l2_camera"),
        DeclareLaunchArgument('camera_stand_in', default_value='false',
                              description="true: accel_ai_ros's image_source publishes on "
                                          "<image> with the driver's QoS instead of the driver"),
        IncludeLaunchDescription(PathJoinSubstitution([
            FindPackageShare('accel_ai_ros'), 'launch', 'fastdds.launch.py'])),
        Node(
            package='v4l2_camera',
            executable='v4l2_camera_node',
            name='v4l2_camera',
            condition=UnlessCondition(LaunchConfiguration('camera_stand_in')),
            parameters=[{
                'video_device': LaunchConfiguration('video_device'),
                'pixel_format': LaunchConfiguration('pixel_format'),
                'output_encoding': LaunchConfiguration('output_encoding'),
                'image_size': ParameterValue(['[', LaunchConfiguration('image_width'), ', ',
                                              LaunchConfiguration('image_height'), ']']),
                'time_per_frame': ParameterValue(['[1, ', LaunchConfiguration('framerate'),
                                                  ']']),
            }],
            remappings=[('image_raw', LaunchConfiguration('image'))],
            output='screen',
        ),
        IncludeLaunchDescription(
            PathJoinSubstitution([FindPackageShare('accel_ai_ros'), 'launch',
                                  'inference.launch.py']),
            launch_arguments={
                'input_transport': 'raw',
                'stand_in_width': LaunchConfiguration('image_width'),
                'stand_in_height': LaunchConfiguration('image_height'),
                'stand_in_rate': LaunchConfiguration('framerate'),
            }.items()),
    ])
