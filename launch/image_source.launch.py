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

"""accel_ai_ros's image_source as the camera, and the inference node on it.

image_source reads a video file, an image folder, a V4L2 device through OpenCV, or draws a
test pattern:

    ros2 launch accel_ai_ros image_source.launch.py source:=video path:=/data/drive.mp4 \
        params_file:=/path/to/my.yaml

image_source publishes <image> best effort (the sensor-data QoS), bgr8 by default. It needs
no other package. Every argument of inference.launch.py applies too (``--show-args``).
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.actions import IncludeLaunchDescription
from launch.substitutions import LaunchConfiguration
from launch.substitutions import PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare


def generate_launch_description() -> LaunchDescription:
    """Describe image_source's settings, then the base launch file that starts it."""
    return LaunchDescription([
        DeclareLaunchArgument('source', default_value='pattern',
                              description='video (path: file), folder (path: images), v4l2 '
                                          '(path: device, default /dev/video0), pattern or '
                                          'digits'),
        DeclareLaunchArgument('path', default_value='',
                              description='Video file, image folder or V4L2 device'),
        DeclareLaunchArgument('image_width', default_value='640',
                              description='Frame width in pixels (frames are resized)'),
        DeclareLaunchArgument('image_height', default_value='480',
                              description='Frame height in pixels'),
        DeclareLaunchArgument('framerate', default_value='30.0',
                              description='Frames per second'),
        DeclareLaunchArgument('encoding', default_value='bgr8',
                              description='Published encoding: bgr8, rgb8 or mono8'),
        DeclareLaunchArgument('image', default_value='/camera/image_raw',
                              description='Topic image_source publishes and the node reads'),
        IncludeLaunchDescription(
            PathJoinSubstitution([FindPackageShare('accel_ai_ros'), 'launch',
                                  'inference.launch.py']),
            launch_arguments={
                'camera_stand_in': 'true',
                'input_transport': 'raw',
                'stand_in_source': LaunchConfiguration('source'),
                'stand_in_path': LaunchConfiguration('path'),
                'stand_in_width': LaunchConfiguration('image_width'),
                'stand_in_height': LaunchConfiguration('image_height'),
                'stand_in_rate': LaunchConfiguration('framerate'),
                'stand_in_encoding': LaunchConfiguration('encoding'),
                'stand_in_reliability': 'best_effort',
            }.items()),
    ])
