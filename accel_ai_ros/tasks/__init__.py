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

"""Turning output tensors into classification and detection results."""

from accel_ai_ros.tasks.classification import ClassificationDecoder
from accel_ai_ros.tasks.classification import softmax
from accel_ai_ros.tasks.detection import DETECTION_LAYOUTS
from accel_ai_ros.tasks.detection import DetectionDecoder
from accel_ai_ros.tasks.nms import batched_nms
from accel_ai_ros.tasks.nms import box_iou
from accel_ai_ros.tasks.nms import nms
from accel_ai_ros.tasks.registry import load_labels
from accel_ai_ros.tasks.registry import make_decoder
from accel_ai_ros.tasks.registry import RawDecoder
from accel_ai_ros.tasks.registry import TASKS

__all__ = [
    'ClassificationDecoder',
    'DETECTION_LAYOUTS',
    'DetectionDecoder',
    'RawDecoder',
    'TASKS',
    'batched_nms',
    'box_iou',
    'load_labels',
    'make_decoder',
    'nms',
    'softmax',
]
