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

"""Drawing results onto a copy of the frame for ``~/image_annotated``."""

import cv2
import numpy as np

from accel_ai_ros.image_codec import DecodedImage
from accel_ai_ros.tasks.results import InferenceResult

_TO_BGR = {
    'rgb': cv2.COLOR_RGB2BGR, 'rgba': cv2.COLOR_RGBA2BGR, 'bgra': cv2.COLOR_BGRA2BGR,
    'mono': cv2.COLOR_GRAY2BGR,
}


def _palette(class_id: int) -> tuple:
    hue = (class_id * 47) % 180
    hsv = np.array([[[hue, 220, 255]]], dtype=np.uint8)
    colour = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return tuple(int(c) for c in colour)


def annotate(image: DecodedImage, result: InferenceResult) -> DecodedImage:
    """Return a BGR copy of ``image`` with boxes or the top classes drawn on it."""
    pixels = image.pixels
    if pixels.dtype == np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)
    canvas = (cv2.cvtColor(pixels, _TO_BGR[image.order]) if image.order in _TO_BGR
              else np.ascontiguousarray(pixels).copy())
    thickness = max(1, round(min(canvas.shape[:2]) / 300))
    for det in result.detections:
        colour = _palette(det.class_id)
        p1 = (int(round(det.x1)), int(round(det.y1)))
        p2 = (int(round(det.x2)), int(round(det.y2)))
        cv2.rectangle(canvas, p1, p2, colour, thickness)
        text = f'{det.label or det.class_id} {det.score:.2f}'
        cv2.putText(canvas, text, (p1[0], max(12, p1[1] - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4 * thickness, colour, thickness)
    for rank, cls in enumerate(result.classes[:5]):
        text = f'{cls.label or cls.class_id}: {cls.score:.2f}'
        cv2.putText(canvas, text, (8, 20 + 18 * rank * thickness), cv2.FONT_HERSHEY_SIMPLEX,
                    0.5 * thickness, (0, 255, 0), thickness)
    return DecodedImage(canvas, 'bgr')
