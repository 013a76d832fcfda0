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

"""The real face detector, run by ONNX Runtime and decoded with the SSD layout.

The model (``../shared/models/face-detector-slim-320``) takes a stretched 320x240 RGB image
scaled to ``(pixel - 127) / 128`` and returns SSD outputs: scores ``(1, 4420, 2)``
(background, face) and normalised corner boxes ``(1, 4420, 4)``.
"""

from pathlib import Path
from typing import List

import numpy as np
import onnxruntime as ort
import pytest
from skimage import data

from accel_ai_ros.image_codec import DecodedImage
from accel_ai_ros.preprocess import CpuPreprocessor
from accel_ai_ros.preprocess import PreprocessSpec
from accel_ai_ros.tasks.detection import DetectionDecoder
from accel_ai_ros.tasks.nms import box_iou
from accel_ai_ros.tasks.results import Detection

# The astronaut's face in the 512x512 image, measured by eye on the picture (hairline to chin,
# ear to ear): x 180-272, y 60-175.
ASTRONAUT_FACE = np.array([[180.0, 60.0, 272.0, 175.0]])


@pytest.fixture(scope='module')
def session(face_model: Path) -> ort.InferenceSession:
    """Return a CPU session on the face detector (quiet: its initializers are also inputs)."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(face_model), options, providers=['CPUExecutionProvider'])


def detect(session: ort.InferenceSession, image: np.ndarray,
           score_threshold: float = 0.7) -> List[Detection]:
    """Preprocess an RGB image, run the model and decode its faces."""
    spec = PreprocessSpec(240, 320, resize_mode='stretch', channel_order='rgb', scale=1.0,
                          mean=(127.0, 127.0, 127.0), std=(128.0, 128.0, 128.0),
                          layout='nchw', dtype='float32')
    tensor, transform = CpuPreprocessor(spec)(DecodedImage(image, 'rgb'))
    names = [o.name for o in session.get_outputs()]
    outputs = dict(zip(names, session.run(None, {'input': tensor})))
    decoder = DetectionDecoder(320, 240, layout='ssd', score_threshold=score_threshold,
                               iou_threshold=0.3, labels=['background', 'face'])
    result = decoder(outputs, transform)
    assert result.task == 'detection'
    return result.detections


def test_one_face_in_astronaut(session: ort.InferenceSession) -> None:
    faces = detect(session, data.astronaut())
    assert len(faces) == 1
    face = faces[0]
    assert (face.class_id, face.label) == (1, 'face')
    assert face.score >= 0.7
    box = np.array([[face.x1, face.y1, face.x2, face.y2]])
    assert box_iou(box, ASTRONAUT_FACE)[0, 0] > 0.5


@pytest.mark.parametrize('name', ['chelsea', 'rocket'])
def test_no_face_without_people(session: ort.InferenceSession, name: str) -> None:
    assert detect(session, getattr(data, name)()) == []


def test_no_confident_face_in_coffee(session: ort.InferenceSession) -> None:
    # Measured: the model scores the cup 0.80 as a face, so coffee is face-free only above
    # that; the astronaut's real face scores above 0.99.
    assert detect(session, data.coffee(), score_threshold=0.9) == []
    assert detect(session, data.astronaut(), score_threshold=0.9) != []
