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

"""A USB (V4L2) camera through usb_cam's usb_cam_node_exe, and the inference node on it.

    ros2 launch accel_ai_ros usb_cam.launch.py video_device:=/dev/video0 \
        image_width:=640 image_height:=480 framerate:=30.0 pixel_format:=yuyv \
        params_file:=/path/to/my.yaml

usb_cam (checked against 0.8.1) publishes /image_raw (reliable, depth 100); with
``pixel_format:=mjpeg`` it publishes only /image_raw/compressed: give
``input_transport:=compressed`` then. Needs ``sudo apt install ros-$ROS_DISTRO-usb-cam``.
Every argument of inference.launch.py applies too (``--show-args`` lists them).
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
    """Describe usb_cam's settings, the base launch file, then the driver."""
    return LaunchDescription([
        DeclareLaunchArgument('video_device', default_value='/dev/video0',
                              description='V4L2 device of the camera'),
        DeclareLaunchArgument('image_width', default_value='640',
                              description='Frame width in pixels'),
        DeclareLaunchArgument('image_height', default_value='480',
                              description='Frame height in pixels'),
        DeclareLaunchArgument('framerate', default_value='30.0',
                              description='Frames per second'),
        DeclareLaunchArgument('pixel_format', default_value='yuyv',
                              description='usb_cam pixel format: yuyv, uyvy, mjpeg2rgb, rgb8, '
                                          'mono8, ... (mjpeg: compressed only)'),
        DeclareLaunchArgument('frame_id', default_value='camera',
                              description='header.frame_id of the frames'),
        DeclareLaunchArgument('image', default_value='/image_raw',
                              description="usb_cam's image topic (image_raw in its namespace)"),
        DeclareLaunchArgument('input_transport', default_value='raw',
                              description='raw, or compressed with pixel_format:=mjpeg'),
        DeclareLaunchArgument('stand_in_encoding', default_value='rgb8',
                              description='Encoding of the stand-in camera (yuyv gives '
                                          'yuv422_yuy2, which the node decodes)'),
        DeclareLaunchArgument('stand_in_reliability', default_value='reliable',
                              description="The stand-in's QoS: reliable, as usb_cam"),
        DeclareLaunchArgument('camera_stand_in', default_value='false',
                              description="true: accel_ai_ros's image_source publishes on "
                                          "<image> with the driver's QoS instead of the driver"),
        IncludeLaunchDescription(PathJoinSubstitution([
            FindPackageShare('accel_ai_ros'), 'launch', 'fastdds.launch.py'])),
        Node(
            package='usb_cam',
            executable='usb_cam_node_exe',
            name='usb_cam',
            condition=UnlessCondition(LaunchConfiguration('camera_stand_in')),
            parameters=[{
                'video_device': LaunchConfiguration('video_device'),
                'image_width': ParameterValue(LaunchConfiguration('image_width'), value_type=int),
                'image_height': ParameterValue(LaunchConfiguration('image_height'),
                                               value_type=int),
                'framerate': ParameterValue(LaunchConfiguration('framerate'), value_type=float),
                'pixel_format': LaunchConfiguration('pixel_format'),
                'frame_id': LaunchConfiguration('frame_id'),
            }],
            remappings=[('image_raw', LaunchConfiguration('image')),
                        ('image_raw/compressed', [LaunchConfiguration('image'), '/compressed'])],
            output='screen',
        ),
        IncludeLaunchDescription(
            PathJoinSubstitution([FindPackageShare('accel_ai_ros'), 'launch',
                                  'inference.launch.py']),
            launch_arguments={
                'stand_in_width': LaunchConfiguration('image_width'),
                'stand_in_height': LaunchConfiguration('image_height'),
                'stand_in_rate': LaunchConfiguration('framerate'),
                'stand_in_transport': LaunchConfiguration('input_transport'),
            }.items()),
    ])
