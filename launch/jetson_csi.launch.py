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

"""A Jetson CSI camera through gscam with an nvarguscamerasrc pipeline, and the inference node.

    ros2 launch accel_ai_ros jetson_csi.launch.py sensor_id:=0 image_width:=1280 \
        image_height:=720 framerate:=30 params_file:=/path/to/my.yaml

gscam (ROS 2 release 2.0.2) runs the GStreamer pipeline ``gscam_config`` and appends its own
appsink, so the pipeline here ends in BGRx converted by videoconvert; gscam publishes
camera/image_raw as rgb8, reliable, depth 1 (``use_sensor_data_qos`` false). Needs
``sudo apt install ros-$ROS_DISTRO-gscam`` and JetPack's GStreamer plugins (nvarguscamerasrc,
nvvidconv). Every argument of inference.launch.py applies too (``--show-args``).
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.actions import IncludeLaunchDescription
from launch.conditions import UnlessCondition
from launch.substitutions import LaunchConfiguration
from launch.substitutions import PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def generate_launch_description() -> LaunchDescription:
    """Describe the CSI camera's settings, the base launch file, then gscam."""
    return LaunchDescription([
        DeclareLaunchArgument('sensor_id', default_value='0',
                              description='CSI sensor of nvarguscamerasrc (sensor-id)'),
        DeclareLaunchArgument('image_width', default_value='1280',
                              description='Frame width in pixels (a mode of the sensor)'),
        DeclareLaunchArgument('image_height', default_value='720',
                              description='Frame height in pixels (a mode of the sensor)'),
        DeclareLaunchArgument('framerate', default_value='30',
                              description='Frames per second (an integer)'),
        DeclareLaunchArgument('flip_method', default_value='0',
                              description='nvvidconv flip-method: 0 none, 2 rotate 180, ...'),
        DeclareLaunchArgument('frame_id', default_value='camera',
                              description='header.frame_id of the frames'),
        DeclareLaunchArgument('image', default_value='/camera/image_raw',
                              description="gscam's image topic (camera/image_raw in its "
                                          'namespace)'),
        DeclareLaunchArgument('stand_in_reliability', default_value='reliable',
                              description="The stand-in's QoS: reliable, as gscam"),
        DeclareLaunchArgument('camera_stand_in', default_value='false',
                              description="true: accel_ai_ros's image_source publishes on "
                                          "<image> with the driver's QoS instead of the driver"),
        IncludeLaunchDescription(PathJoinSubstitution([
            FindPackageShare('accel_ai_ros'), 'launch', 'fastdds.launch.py'])),
        Node(
            package='gscam',
            executable='gscam_node',
            name='gscam_publisher',
            condition=UnlessCondition(LaunchConfiguration('camera_stand_in')),
            parameters=[{
                'gscam_config': [
                    'nvarguscamerasrc sensor-id=', LaunchConfiguration('sensor_id'),
                    ' ! video/x-raw(memory:NVMM),width=', LaunchConfiguration('image_width'),
                    ',height=', LaunchConfiguration('image_height'),
                    ',framerate=', LaunchConfiguration('framerate'),
                    '/1,format=NV12 ! nvvidconv flip-method=',
                    LaunchConfiguration('flip_method'),
                    ' ! video/x-raw,format=BGRx ! videoconvert'],
                'image_encoding': 'rgb8',
                'frame_id': LaunchConfiguration('frame_id'),
                'sync_sink': False,
                'use_sensor_data_qos': False,
            }],
            remappings=[('camera/image_raw', LaunchConfiguration('image'))],
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
