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

"""Start one accel_ai_ros inference node on a camera topic; the base of the camera launch files.

Example, with the demo's digit classifier:

    ros2 launch accel_ai_ros inference.launch.py \
        params_file:=$(ros2 pkg prefix accel_ai_ros)/share/accel_ai_ros/config/demo.yaml \
        model_dir:=$HOME/models/demo image:=/camera/image_raw precision:=fp16

``precision``, ``model_dir`` and ``input_transport`` reach the node only when given: left
empty, the parameter file's values stand. fastdds.launch.py sets the shipped Fast DDS
profile for every process started from here on. ``camera_stand_in:=true`` starts
``image_source`` on the image topic in place of a camera: the camera launch files, which
include this one after starting their driver, use it for tests. ``container:=/name`` loads
the node into a running component container instead of starting its own process.
``ros2 launch accel_ai_ros inference.launch.py --show-args`` lists every argument.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.actions import GroupAction
from launch.actions import IncludeLaunchDescription
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch.substitutions import PathJoinSubstitution
from launch_ros.actions import LoadComposableNodes
from launch_ros.actions import Node
from launch_ros.actions import SetParameter
from launch_ros.actions import SetParametersFromFile
from launch_ros.descriptions import ComposableNode
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from accel_ai_ros.launch_conditions import ArgumentGiven


def generate_launch_description() -> LaunchDescription:
    """Describe the node, its parameter file and overrides, remaps, and the camera stand-in."""
    share = FindPackageShare('accel_ai_ros')
    image = LaunchConfiguration('image')
    remappings = [('image', image), ('image/compressed', [image, '/compressed'])]
    return LaunchDescription([
        IncludeLaunchDescription(PathJoinSubstitution([share, 'launch', 'fastdds.launch.py'])),
        DeclareLaunchArgument(
            'params_file',
            default_value=PathJoinSubstitution([share, 'config', 'defaults.yaml']),
            description='Parameter file naming the engines per precision and the task'),
        DeclareLaunchArgument(
            'model_dir', default_value='',
            description='Folder that relative engine and labels paths are resolved against '
                        "('' keeps the parameter file's)"),
        DeclareLaunchArgument(
            'precision', default_value='',
            description='Precision to start with: fp32, fp16 or int8, configured in the '
                        "parameter file ('' keeps the parameter file's)"),
        DeclareLaunchArgument(
            'input_transport', default_value='',
            description='raw subscribes to <image> (sensor_msgs/Image), compressed to '
                        "<image>/compressed ('' keeps the parameter file's)"),
        DeclareLaunchArgument(
            'image', default_value='image',
            description='Camera image topic (sensor_msgs/Image) the node subscribes to'),
        DeclareLaunchArgument(
            'namespace', default_value='',
            description='Namespace of the node and its topics'),
        DeclareLaunchArgument(
            'node_name', default_value='inference_node', description='Name of the node'),
        DeclareLaunchArgument(
            'container', default_value='',
            description='A running component container to load the node into, e.g. '
                        "/accel_container (ros2 run accel_ai_ros component_container); '' "
                        'starts the node as its own process'),
        DeclareLaunchArgument(
            'use_sim_time', default_value='false',
            description='true: the node (and the stand-in camera) run on /clock time, for a '
                        'simulator or a rosbag2 replay'),
        DeclareLaunchArgument(
            'camera_stand_in', default_value='false',
            description="true: start accel_ai_ros's image_source on <image> instead of the "
                        'camera driver (tests, or trying a launch file without the camera)'),
        DeclareLaunchArgument(
            'stand_in_source', default_value='pattern',
            description='Frames of the stand-in: digits, pattern, folder, video or v4l2'),
        DeclareLaunchArgument(
            'stand_in_path', default_value='',
            description='Image folder, video file or V4L2 device of the stand-in'),
        DeclareLaunchArgument(
            'stand_in_encoding', default_value='rgb8',
            description='Encoding the stand-in publishes: bgr8, rgb8 or mono8'),
        DeclareLaunchArgument(
            'stand_in_transport', default_value='raw',
            description='raw publishes <image>, compressed publishes <image>/compressed (JPEG)'),
        DeclareLaunchArgument(
            'stand_in_reliability', default_value='best_effort',
            description="The stand-in's publisher QoS reliability, as the driver's: "
                        'best_effort or reliable'),
        DeclareLaunchArgument(
            'stand_in_width', default_value='640', description='Stand-in frame width'),
        DeclareLaunchArgument(
            'stand_in_height', default_value='480', description='Stand-in frame height'),
        DeclareLaunchArgument(
            'stand_in_rate', default_value='15.0', description='Stand-in frames per second'),
        Node(
            package='accel_ai_ros',
            executable='image_source',
            name='camera_stand_in',
            namespace=LaunchConfiguration('namespace'),
            condition=IfCondition(LaunchConfiguration('camera_stand_in')),
            parameters=[{
                'source': LaunchConfiguration('stand_in_source'),
                'path': ParameterValue(LaunchConfiguration('stand_in_path'), value_type=str),
                'encoding': LaunchConfiguration('stand_in_encoding'),
                'transport': LaunchConfiguration('stand_in_transport'),
                'reliability': LaunchConfiguration('stand_in_reliability'),
                'width': LaunchConfiguration('stand_in_width'),
                'height': LaunchConfiguration('stand_in_height'),
                'rate_hz': ParameterValue(LaunchConfiguration('stand_in_rate'), value_type=float),
                'publish_clock': LaunchConfiguration('use_sim_time'),
            }],
            remappings=remappings,
            output='screen',
        ),
        # The parameter file first, then only the arguments the user gave: each global
        # parameter of this group reaches the node, a process or a component, in that order
        # (later wins), and nothing outside the group (a camera driver) sees them.
        GroupAction([
            SetParametersFromFile(LaunchConfiguration('params_file')),
            SetParameter('model_dir', LaunchConfiguration('model_dir'),
                         condition=ArgumentGiven('model_dir')),
            SetParameter('precision', LaunchConfiguration('precision'),
                         condition=ArgumentGiven('precision')),
            SetParameter('input_transport', LaunchConfiguration('input_transport'),
                         condition=ArgumentGiven('input_transport')),
            SetParameter('use_sim_time', LaunchConfiguration('use_sim_time')),
            Node(
                package='accel_ai_ros',
                executable='inference_node',
                name=LaunchConfiguration('node_name'),
                namespace=LaunchConfiguration('namespace'),
                remappings=remappings,
                output='screen',
                emulate_tty=True,
                condition=ArgumentGiven('container', given=False),
            ),
            LoadComposableNodes(
                target_container=LaunchConfiguration('container'),
                composable_node_descriptions=[ComposableNode(
                    package='accel_ai_ros',
                    plugin='accel_ai_ros::InferenceNode',
                    name=LaunchConfiguration('node_name'),
                    namespace=LaunchConfiguration('namespace'),
                    remappings=remappings,
                    extra_arguments=[{'use_intra_process_comms': True}],
                )],
                condition=ArgumentGiven('container'),
            ),
        ], scoped=True, forwarding=True),
    ])
