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

"""An Intel RealSense camera's colour stream through realsense2_camera, and the inference node.

    ros2 launch accel_ai_ros realsense.launch.py image_width:=640 image_height:=480 \
        framerate:=30 params_file:=/path/to/my.yaml

realsense2_camera 4.54 and later (checked against 4.56.1) name the node
<camera_namespace>/<camera_name> and publish the colour stream on
/camera/camera/color/image_raw by default, with color_qos SYSTEM_DEFAULT (reliable).
Depth is off here: the node only needs colour. Needs
``sudo apt install ros-$ROS_DISTRO-realsense2-camera``. Every argument of
inference.launch.py applies too (``--show-args`` lists them).
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
    """Describe the colour stream's settings, the base launch file, then the driver."""
    return LaunchDescription([
        DeclareLaunchArgument('camera_namespace', default_value='camera',
                              description='Namespace of the camera node (realsense 4.x)'),
        DeclareLaunchArgument('camera_name', default_value='camera',
                              description='Name of the camera node (realsense 4.x)'),
        DeclareLaunchArgument('serial_no', default_value='',
                              description="Serial number of the camera to open ('' = any)"),
        DeclareLaunchArgument('image_width', default_value='640',
                              description='Colour frame width in pixels'),
        DeclareLaunchArgument('image_height', default_value='480',
                              description='Colour frame height in pixels'),
        DeclareLaunchArgument('framerate', default_value='30',
                              description='Colour frames per second'),
        DeclareLaunchArgument('color_format', default_value='RGB8',
                              description='Colour stream format: RGB8, BGR8, YUYV, ...'),
        DeclareLaunchArgument('color_qos', default_value='SYSTEM_DEFAULT',
                              description='QoS of the colour topic: SYSTEM_DEFAULT (reliable) '
                                          'or SENSOR_DATA (best effort)'),
        DeclareLaunchArgument('image', default_value=[
                                  '/', LaunchConfiguration('camera_namespace'), '/',
                                  LaunchConfiguration('camera_name'), '/color/image_raw'],
                              description='Colour topic the node subscribes to: the driver '
                                          'publishes ~/color/image_raw'),
        DeclareLaunchArgument('stand_in_reliability', default_value='reliable',
                              description="The stand-in's QoS: reliable, as color_qos "
                                          'SYSTEM_DEFAULT'),
        DeclareLaunchArgument('camera_stand_in', default_value='false',
                              description="true: accel_ai_ros's image_source publishes on "
                                          "<image> with the driver's QoS instead of the driver"),
        IncludeLaunchDescription(PathJoinSubstitution([
            FindPackageShare('accel_ai_ros'), 'launch', 'fastdds.launch.py'])),
        Node(
            package='realsense2_camera',
            executable='realsense2_camera_node',
            namespace=LaunchConfiguration('camera_namespace'),
            name=LaunchConfiguration('camera_name'),
            condition=UnlessCondition(LaunchConfiguration('camera_stand_in')),
            parameters=[{
                'serial_no': ParameterValue(LaunchConfiguration('serial_no'), value_type=str),
                'enable_color': True,
                'enable_depth': False,
                'rgb_camera.color_profile': [LaunchConfiguration('image_width'), 'x',
                                             LaunchConfiguration('image_height'), 'x',
                                             LaunchConfiguration('framerate')],
                'rgb_camera.color_format': LaunchConfiguration('color_format'),
                'color_qos': LaunchConfiguration('color_qos'),
            }],
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
