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

"""Outputs that cannot be right are refused: non-finite values, impossible layouts, cuts."""

from typing import Dict

import numpy as np
import pytest

from accel_ai_ros.errors import NonFiniteOutputError
from accel_ai_ros.errors import PostprocessError
from accel_ai_ros.frame_processor import check_finite
from accel_ai_ros.tasks.detection import DetectionDecoder
from accel_ai_ros.transform import ImageTransform

IDENTITY = ImageTransform.identity(640, 640)
LABELS = tuple('label' + str(i) for i in range(80))  # (pydocstyle on 3.12 trips on f'class{i}')


def yolov8_output(boxes: int = 8400, classes: int = 80, seed: int = 0) -> Dict[str, np.ndarray]:
    """Return a YOLOv8-shaped output (1, 4 + C, N): boxes in pixels, sigmoid class scores."""
    rng = np.random.default_rng(seed)
    pred = np.empty((4 + classes, boxes), np.float32)
    pred[0:2] = rng.uniform(20, 620, (2, boxes))
    pred[2:4] = rng.uniform(5, 60, (2, boxes))
    pred[4:] = rng.uniform(0.0, 0.3, (classes, boxes))
    pred[4 + 7, :5] = 0.9        # five confident boxes of class 7
    return {'output0': pred[None]}


def test_yolov5_read_on_a_yolov8_output_is_refused_naming_yolov8() -> None:
    decoder = DetectionDecoder(640, 640, layout='yolov5', labels=LABELS)
    with pytest.raises(PostprocessError, match=r"'yolov5' cannot be right .* "
                       r"detection_layout 'yolov8' fits"):
        decoder(yolov8_output(), IDENTITY)
    result = DetectionDecoder(640, 640, layout='yolov8', labels=LABELS)(yolov8_output(),
                                                                        IDENTITY)
    assert result.detections and all(d.class_id == 7 for d in result.detections)


def test_yolov5_read_without_labels_is_refused_by_its_scores() -> None:
    decoder = DetectionDecoder(640, 640, layout='yolov5')
    with pytest.raises(PostprocessError, match=r'objectness scores range .* not within'):
        decoder(yolov8_output(), IDENTITY)


def test_more_labels_than_the_output_has_classes_is_refused() -> None:
    decoder = DetectionDecoder(640, 640, layout='yolov8', labels=LABELS + ('extra',) * 10)
    with pytest.raises(PostprocessError, match='reads 80 classes but labels_file has 90'):
        decoder(yolov8_output(), IDENTITY)


def test_class_scores_that_are_not_probabilities_are_refused() -> None:
    logits = yolov8_output()
    logits['output0'][0, 4:] *= 40.0           # an export without the final sigmoid
    with pytest.raises(PostprocessError, match='class scores range'):
        DetectionDecoder(640, 640, layout='yolov8')(logits, IDENTITY)


def test_max_detections_cutting_results_is_reported() -> None:
    pred = np.zeros((4 + 1, 58), np.float32)   # 58 faces in a row, none overlapping
    pred[0] = np.arange(58) * 11 + 5
    pred[1], pred[2], pred[3], pred[4] = 320, 10, 10, np.linspace(0.99, 0.6, 58)
    outputs = {'output0': pred[None]}
    cut = DetectionDecoder(640, 640, layout='yolov8', max_detections=50)(outputs, IDENTITY)
    assert len(cut.detections) == 50 and cut.truncated
    whole = DetectionDecoder(640, 640, layout='yolov8', max_detections=58)(outputs, IDENTITY)
    assert len(whole.detections) == 58 and not whole.truncated


@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf])
def test_non_finite_outputs_are_refused_naming_the_output(bad: float) -> None:
    scores = np.zeros((1, 10), np.float16)
    scores[0, 3] = bad
    with pytest.raises(NonFiniteOutputError, match="output 'scores' holds 1 NaN or infinite"):
        check_finite({'boxes': np.ones((1, 10, 4), np.float32), 'scores': scores})


def test_large_finite_outputs_pass() -> None:
    check_finite({'big': np.full((1000,), 60000.0, np.float16),
                  'ids': np.arange(10, dtype=np.int64)})
