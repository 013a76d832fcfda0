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

"""Install accel_ai_ros the ament_python way (colcon on a robot, or in a virtual env)."""

from glob import glob
import os

from setuptools import find_packages
from setuptools import setup

package_name = 'accel_ai_ros'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        (os.path.join('share', package_name, 'launch'), glob('launch/*.launch.py')),
        (os.path.join('share', package_name, 'config'),
         glob('config/*.yaml') + glob('config/*.xml') + glob('config/*.txt')),
    ],
    install_requires=['setuptools', 'numpy', 'opencv-python-headless', 'pyyaml', 'onnx'],
    extras_require={
        # The demo trains its model from scikit-learn's digits and converts it to FP16.
        'demo': ['onnxruntime', 'scikit-learn', 'onnxconverter-common'],
        'variants': ['onnxruntime', 'onnxconverter-common'],
        'bench': ['matplotlib', 'scikit-image'],
        'train': ['torch'],
        'tensorrt': ['tensorrt', 'cuda-python'],
        'gpu': ['cuda-python'],
        'test': ['pytest', 'scikit-image', 'scikit-learn', 'onnxconverter-common',
                 'matplotlib'],
    },
    zip_safe=True,
    maintainer='accel_ai_ros maintainers',
    maintainer_email='maintainers@accel-ai-ros.invalid',
    description='Hardware-accelerated, real-time neural-network inference for ROS 2 cameras.',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={
        'console_scripts': [
            'inference_node = accel_ai_ros.startup:main',
            'component_container = accel_ai_ros.container:main',
            'image_source = accel_ai_ros_tools.image_source:main',
            'demo = accel_ai_ros_tools.demo:main',
            'make_demo_models = accel_ai_ros_tools.demo_models:main',
            'benchmark = accel_ai_ros_tools.bench:main',
            'build_engine = accel_ai_ros_tools.build:main',
            'make_variants = accel_ai_ros_tools.variants.cli:main',
            'train_demo_models = accel_ai_ros_tools.demo_train:main',
        ],
        # Node classes that component_container loads (accel_ai_ros/container.py), named as
        # `ros2 component load` and launch_ros's ComposableNode(plugin=...) name them.
        'rclpy_components': [
            'accel_ai_ros::InferenceNode = accel_ai_ros.node:InferenceNode',
            'accel_ai_ros::ImageSource = accel_ai_ros_tools.image_source:ImageSource',
        ],
    },
)
