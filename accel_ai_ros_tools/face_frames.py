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

"""Real photographs with faces for the face detector, split into calibration and held out.

From scikit-image: its photographs, and ``lfw_subset`` (100 real 25x25 faces from Labeled
Faces in the Wild) laid out on 640x480 frames at several sizes. Faces 0-49 and photographs
without faces calibrate; faces 50-99, the astronaut and the cameraman are held out: no
held-out image is used for calibration. FP32 finds 103 faces on the held-out frames
(score 0.7, NMS IoU 0.3).
"""

from typing import Any
from typing import List

import cv2
import numpy as np

from accel_ai_ros.errors import BackendUnavailableError
from accel_ai_ros.image_codec import DecodedImage


def _data() -> Any:
    try:
        from skimage import data
    except ImportError as exc:
        raise BackendUnavailableError(f'scikit-image is not importable ({exc}); install it '
                                      f'with: pip install scikit-image') from None
    return data


def _rgb(pixels: np.ndarray) -> DecodedImage:
    if pixels.ndim == 2:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB)
    return DecodedImage(np.ascontiguousarray(pixels[..., :3]), 'rgb')


def _mosaic(faces: np.ndarray, cell: int, rng: np.random.Generator) -> DecodedImage:
    canvas = np.full((480, 640), 90, np.uint8)
    size = int(cell * 0.7)
    k = 0
    for row in range(480 // cell):
        for col in range(640 // cell):
            face = cv2.resize(faces[k % len(faces)], (size, size), interpolation=cv2.INTER_CUBIC)
            y = row * cell + int(rng.integers(0, cell - size + 1))
            x = col * cell + int(rng.integers(0, cell - size + 1))
            canvas[y:y + size, x:x + size] = face
            k += 1
    return _rgb(canvas)


def _faces() -> np.ndarray:
    return (_data().lfw_subset()[:100] * 255).astype(np.uint8)  # the first 100 are faces


def calibration_frames() -> List[DecodedImage]:
    """Return 13 frames: 9 photographs without faces and 4 frames of faces 0-49."""
    rng = np.random.default_rng(0)
    data = _data()
    frames = [_rgb(getattr(data, name)()) for name in (
        'coffee', 'chelsea', 'rocket', 'hubble_deep_field', 'immunohistochemistry', 'retina',
        'coins', 'page')]
    frames.append(_rgb(data.stereo_motorcycle()[0]))
    faces = _faces()[:50]
    frames += [_mosaic(faces[rng.permutation(50)], cell, rng) for cell in (80, 100, 128, 160)]
    return frames


def held_out_frames() -> List[DecodedImage]:
    """Return 10 frames never used for calibration: faces 50-99, astronaut, cameraman."""
    rng = np.random.default_rng(1)
    data = _data()
    astronaut, camera = data.astronaut(), data.camera()
    frames = [_rgb(astronaut), _rgb(camera), _rgb(astronaut[:300, 50:450]),
              _rgb(astronaut[:, ::-1]), _rgb(cv2.convertScaleAbs(astronaut, alpha=0.6, beta=20)),
              _rgb(camera[:300, 100:450])]
    faces = _faces()[50:]
    frames += [_mosaic(faces[rng.permutation(50)], cell, rng) for cell in (80, 96, 120, 160)]
    return frames
