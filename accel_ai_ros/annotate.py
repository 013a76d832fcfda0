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

"""A BGR copy of the frame for ``~/image_annotated``, with the result drawn by its task."""

import cv2
import numpy as np

from accel_ai_ros.image_codec import DecodedImage
from accel_ai_ros.tasks.registry import task_named
from accel_ai_ros.tasks.results import InferenceResult

_TO_BGR = {
    'rgb': cv2.COLOR_RGB2BGR, 'rgba': cv2.COLOR_RGBA2BGR, 'bgra': cv2.COLOR_BGRA2BGR,
    'mono': cv2.COLOR_GRAY2BGR,
}


def annotate(image: DecodedImage, result: InferenceResult) -> DecodedImage:
    """Return a BGR copy of ``image`` with ``result`` drawn on it by its task."""
    pixels = image.pixels
    if pixels.dtype == np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)
    canvas = (cv2.cvtColor(pixels, _TO_BGR[image.order]) if image.order in _TO_BGR
              else np.ascontiguousarray(pixels).copy())
    task_named(result.task).draw(canvas, result)
    return DecodedImage(canvas, 'bgr')
