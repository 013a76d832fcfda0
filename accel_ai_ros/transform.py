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

"""The geometric link between the original image and the model's input.

Preprocessing produces an :class:`ImageTransform`; postprocessing uses the same value to map
boxes from model-input pixels back to original-image pixels, so it never guesses what
preprocessing did (letterbox scale and padding, centre-crop offsets, stretch factors).
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ImageTransform:
    """Maps model-input pixel coordinates to original-image pixel coordinates.

    A point ``(u, v)`` in the model input corresponds to
    ``x = (u - offset_x) / scale_x`` and ``y = (v - offset_y) / scale_y`` in the image.
    Letterbox: ``scale_x == scale_y`` and the offsets are the padding. Centre crop: equal
    scales and negative offsets. Stretch: different scales, zero offsets.
    """

    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float
    image_width: int
    image_height: int

    @classmethod
    def identity(cls, width: int, height: int) -> 'ImageTransform':
        """Return the transform of an image fed to the model at its own size."""
        return cls(1.0, 1.0, 0.0, 0.0, width, height)

    def boxes_to_image(self, boxes: np.ndarray) -> np.ndarray:
        """Map ``(N, 4)`` corner boxes ``x1, y1, x2, y2`` to the image, clipped to its bounds."""
        out = np.asarray(boxes, dtype=np.float32).reshape(-1, 4).copy()
        out[:, 0::2] = (out[:, 0::2] - self.offset_x) / self.scale_x
        out[:, 1::2] = (out[:, 1::2] - self.offset_y) / self.scale_y
        np.clip(out[:, 0::2], 0.0, float(self.image_width), out=out[:, 0::2])
        np.clip(out[:, 1::2], 0.0, float(self.image_height), out=out[:, 1::2])
        return out
