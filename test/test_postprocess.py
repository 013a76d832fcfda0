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

"""Postprocessing on hand-built output tensors with hand-computed expectations."""

from pathlib import Path
from typing import Dict
from typing import List

import numpy as np
import pytest

from accel_ai_ros.errors import ParameterError
from accel_ai_ros.errors import PostprocessError
from accel_ai_ros.params import defaults
from accel_ai_ros.params import SPECS
from accel_ai_ros.tasks.classification import ClassificationDecoder
from accel_ai_ros.tasks.classification import softmax
from accel_ai_ros.tasks.detection import detect_layout
from accel_ai_ros.tasks.detection import DetectionDecoder
from accel_ai_ros.tasks.nms import batched_nms
from accel_ai_ros.tasks.nms import box_iou
from accel_ai_ros.tasks.nms import nms
from accel_ai_ros.tasks.raw import RawDecoder
from accel_ai_ros.tasks.registry import load_labels
from accel_ai_ros.tasks.registry import make_decoder
from accel_ai_ros.tasks.registry import TASK_NAMES
from accel_ai_ros.tasks.registry import TASKS
from accel_ai_ros.tasks.results import Detection
from accel_ai_ros.transform import ImageTransform

IDENTITY = ImageTransform.identity(100, 100)


def boxes_of(detections: List[Detection]) -> np.ndarray:
    """Return the detections' corner boxes as an (N, 4) array."""
    return np.array([[d.x1, d.y1, d.x2, d.y2] for d in detections], dtype=np.float64)


def reference_nms(boxes: np.ndarray, scores: np.ndarray, thr: float) -> List[int]:
    """Greedy NMS written the slow, obvious way, one pair at a time."""
    def iou(p: np.ndarray, q: np.ndarray) -> float:
        w = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
        h = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
        union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - w * h
        return w * h / union

    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep: List[int] = []
    for i in order:
        if all(iou(boxes[i], boxes[k]) <= thr for k in keep):
            keep.append(i)
    return keep


# -- NMS -------------------------------------------------------------------------------------
def test_box_iou_hand_computed() -> None:
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 10]], dtype=np.float32)
    b = np.array([[5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30]], dtype=np.float32)
    iou = box_iou(a, b)
    assert iou.shape == (2, 3)
    # Overlap 5 x 10 = 50, union 100 + 100 - 50 = 150.
    np.testing.assert_allclose(iou[0], [50 / 150, 1.0, 0.0])
    # A box without area overlaps nothing.
    np.testing.assert_allclose(iou[1], [0.0, 0.0, 0.0])


def test_nms_keeps_best_of_overlapping_and_orders_by_score() -> None:
    boxes = np.array([[20, 20, 30, 30],    # alone, score 0.7
                      [1, 0, 11, 10],      # IoU 90 / 110 = 0.82 with the next box
                      [0, 0, 10, 10]], dtype=np.float32)
    scores = np.array([0.7, 0.8, 0.9], dtype=np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [2, 0]
    assert nms(boxes, scores, 0.85).tolist() == [2, 1, 0]
    assert nms(np.zeros((0, 4)), np.zeros((0,)), 0.5).tolist() == []


def test_batched_nms_keeps_overlapping_boxes_of_different_classes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [2, 0, 12, 10]], dtype=np.float32)
    scores = np.array([0.9, 0.8, 0.7], dtype=np.float32)
    assert batched_nms(boxes, scores, np.array([0, 1, 0]), 0.5).tolist() == [0, 1]
    assert batched_nms(boxes, scores, np.array([0, 0, 0]), 0.5).tolist() == [0]


def test_nms_matches_a_pairwise_reference_on_random_boxes() -> None:
    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 200, size=(300, 2))
    wh = rng.uniform(5, 60, size=(300, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1)
    scores = rng.uniform(0, 1, size=300)
    for thr in (0.3, 0.5, 0.7):
        assert nms(boxes, scores, thr).tolist() == reference_nms(boxes, scores, thr)
    classes = rng.integers(0, 3, size=300)
    kept = batched_nms(boxes, scores, classes, 0.5).tolist()
    expected = []
    for c in range(3):
        idx = np.nonzero(classes == c)[0]
        expected += [int(idx[k]) for k in reference_nms(boxes[idx], scores[idx], 0.5)]
    assert kept == sorted(expected, key=lambda i: -scores[i])
    assert batched_nms(boxes, scores, classes, 0.5, max_output=7).tolist() == kept[:7]
    assert nms(boxes, scores, 0.5, max_output=3).tolist() == reference_nms(
        boxes, scores, 0.5)[:3]


# -- classification --------------------------------------------------------------------------
def test_softmax_values() -> None:
    np.testing.assert_allclose(softmax(np.array([0.0, np.log(3.0)])), [0.25, 0.75])
    out = softmax(np.array([[1000.0, 1000.0], [0.0, 0.0]]), axis=1)
    np.testing.assert_allclose(out, [[0.5, 0.5], [0.5, 0.5]])


def test_softmax_auto_detects_logits_and_probabilities() -> None:
    transform = IDENTITY
    auto = ClassificationDecoder(top_k=3)
    probs = {'prob': np.array([[0.1, 0.7, 0.2]], dtype=np.float32)}
    result = auto(probs, transform)
    assert [c.class_id for c in result.classes] == [1, 2, 0]
    assert result.classes[0].score == pytest.approx(0.7, abs=1e-6)
    logits = {'logits': np.array([[2.0, -1.0, 0.5]], dtype=np.float32)}
    expected = softmax(np.array([2.0, -1.0, 0.5]))
    result = auto(logits, transform)
    assert [c.class_id for c in result.classes] == [0, 2, 1]
    np.testing.assert_allclose([c.score for c in result.classes],
                               [expected[0], expected[2], expected[1]], rtol=1e-6)
    # Non-negative values below 1 that do not sum to 1 are not probabilities either.
    result = auto({'x': np.array([0.5, 0.4, 0.3])}, transform)
    assert result.classes[0].score == pytest.approx(softmax(np.array([0.5, 0.4, 0.3]))[0])
    never = ClassificationDecoder(top_k=1, apply_softmax='never')
    assert never(logits, transform).classes[0].score == pytest.approx(2.0)
    always = ClassificationDecoder(top_k=1, apply_softmax='always')
    assert always(probs, transform).classes[0].score == pytest.approx(
        softmax(np.array([0.1, 0.7, 0.2]))[1])


def test_top_k_order_labels_and_shapes() -> None:
    decoder = ClassificationDecoder(top_k=3, labels=['a', 'b', 'c', 'd'])
    scores = np.array([0.1, 0.3, 0.05, 0.5, 0.05], dtype=np.float32).reshape(1, 5, 1, 1)
    result = decoder({'out': scores}, IDENTITY)
    assert result.task == 'classification'
    assert [(c.class_id, c.label) for c in result.classes] == [(3, 'd'), (1, 'b'), (0, 'a')]
    assert [c.score for c in result.classes] == sorted([c.score for c in result.classes],
                                                       reverse=True)
    # A class past the end of the labels gets '', and top_k larger than C gives C classes.
    wide = ClassificationDecoder(top_k=10, labels=['a'])
    result = wide({'out': np.array([0.2, 0.8])}, IDENTITY)
    assert [(c.class_id, c.label) for c in result.classes] == [(1, ''), (0, 'a')]


def test_classification_rejects_bad_shapes_and_parameters() -> None:
    decoder = ClassificationDecoder()
    with pytest.raises(PostprocessError, match=r'\(1, 2, 3\)'):
        decoder({'out': np.zeros((1, 2, 3))}, IDENTITY)
    with pytest.raises(PostprocessError, match='no outputs'):
        decoder({}, IDENTITY)
    with pytest.raises(ParameterError, match='auto'):
        ClassificationDecoder(apply_softmax='sometimes')
    with pytest.raises(ParameterError, match='top_k'):
        ClassificationDecoder(top_k=0)


# -- detection: hand-built outputs -----------------------------------------------------------
def yolov5_rows(second_class: int) -> np.ndarray:
    """Return three yolov5 rows: two overlapping boxes and one under the threshold."""
    cls_b = [0.9, 0.1] if second_class == 0 else [0.1, 0.9]
    return np.array([
        [30, 30, 20, 20, 0.9, 0.9, 0.1],   # box 20,20-40,40; score 0.81, class 0
        [32, 30, 20, 20, 0.8] + cls_b,     # box 22,20-42,40; score 0.72; IoU 360/440
        [70, 70, 10, 10, 0.9, 0.2, 0.5],   # best score 0.45 < 0.5: dropped
    ], dtype=np.float32)


def test_yolov5_same_class_overlap_keeps_one() -> None:
    decoder = DetectionDecoder(100, 100, layout='yolov5', labels=['person', 'car'])
    result = decoder({'output0': yolov5_rows(0)[None]}, IDENTITY)
    assert result.task == 'detection'
    assert len(result.detections) == 1
    det = result.detections[0]
    assert (det.class_id, det.label) == (0, 'person')
    assert det.score == pytest.approx(0.81)
    np.testing.assert_allclose(boxes_of(result.detections), [[20, 20, 40, 40]])


def test_yolov5_different_classes_keep_both_unless_class_agnostic() -> None:
    outputs = {'output0': yolov5_rows(1)[None]}
    result = DetectionDecoder(100, 100, layout='yolov5')(outputs, IDENTITY)
    assert [(d.class_id, round(d.score, 4)) for d in result.detections] == [(0, 0.81),
                                                                            (1, 0.72)]
    np.testing.assert_allclose(boxes_of(result.detections),
                               [[20, 20, 40, 40], [22, 20, 42, 40]])
    agnostic = DetectionDecoder(100, 100, layout='yolov5', class_agnostic=True)
    assert [d.class_id for d in agnostic(outputs, IDENTITY).detections] == [0]


def yolov8_output(second_class: int) -> np.ndarray:
    """Return a (1, 4 + 2, 8) yolov8 output: the yolov5 rows without objectness, padded."""
    rows = np.zeros((8, 6), dtype=np.float32)
    rows[:, :4] = [50, 50, 4, 4]
    rows[0] = [30, 30, 20, 20, 0.81, 0.1]
    rows[1] = [32, 30, 20, 20] + ([0.72, 0.1] if second_class == 0 else [0.1, 0.72])
    rows[2] = [70, 70, 10, 10, 0.2, 0.45]
    return rows.T[None].copy()


def test_yolov8_layout_and_auto_detection() -> None:
    same = {'output0': yolov8_output(0)}
    assert detect_layout(same) == 'yolov8'
    for layout in ('yolov8', 'auto'):
        result = DetectionDecoder(100, 100, layout=layout)(same, IDENTITY)
        assert [(d.class_id, round(d.score, 4)) for d in result.detections] == [(0, 0.81)]
        np.testing.assert_allclose(boxes_of(result.detections), [[20, 20, 40, 40]])
    both = DetectionDecoder(100, 100)({'output0': yolov8_output(1)}, IDENTITY)
    assert [(d.class_id, round(d.score, 4)) for d in both.detections] == [(0, 0.81),
                                                                          (1, 0.72)]
    padded = np.zeros((1, 10, 7), dtype=np.float32)
    padded[0, :3] = yolov5_rows(0)
    assert detect_layout({'output0': padded}) == 'yolov5'
    result = DetectionDecoder(100, 100)({'output0': padded}, IDENTITY)
    assert [(d.class_id, round(d.score, 4)) for d in result.detections] == [(0, 0.81)]
    # The heuristic's documented limit: fewer boxes than channels looks channels-first.
    assert detect_layout({'output0': yolov5_rows(0)[None]}) == 'yolov8'


def test_letterbox_back_mapping() -> None:
    # A 400x300 image letterboxed into 200x200: scale 0.5, 25 rows of padding on top.
    transform = ImageTransform(0.5, 0.5, 0.0, 25.0, 400, 300)
    rows = np.zeros((8, 5), dtype=np.float32)
    rows[0] = [100, 100, 100, 50, 0.9]     # input box 50,75-150,125
    output = rows.T[None].copy()
    result = DetectionDecoder(200, 200, layout='yolov8')({'out': output}, transform)
    # x: 50 / 0.5 = 100, 150 / 0.5 = 300; y: (75 - 25) / 0.5 = 100, (125 - 25) / 0.5 = 200.
    np.testing.assert_allclose(boxes_of(result.detections), [[100, 100, 300, 200]])


def ssd_outputs(num_classes: int = 3) -> Dict[str, np.ndarray]:
    """Return SSD scores (1, 4, C) and normalised corner boxes (1, 4, 4)."""
    scores = np.zeros((1, 4, num_classes), dtype=np.float32)
    scores[0, :, 0] = 1.0
    scores[0, 0, :3] = [0.05, 0.9, 0.05]   # class 1, box A
    scores[0, 1, :3] = [0.2, 0.8, 0.0]     # class 1, overlaps A: suppressed
    scores[0, 2, :3] = [0.1, 0.0, 0.9]     # class 2, overlaps A: kept (other class)
    scores[0, 3, :3] = [0.6, 0.4, 0.0]     # background wins and 0.4 < 0.5
    boxes = np.array([[[0.1, 0.2, 0.3, 0.6],
                       [0.11, 0.2, 0.31, 0.6],
                       [0.1, 0.2, 0.3, 0.6],
                       [0.5, 0.5, 0.9, 0.9]]], dtype=np.float32)
    return {'boxes': boxes, 'scores': scores}


def test_ssd_background_excluded_and_boxes_scaled_to_input() -> None:
    decoder = DetectionDecoder(200, 100, layout='ssd', labels=['background', 'cat', 'dog'])
    result = decoder(ssd_outputs(), ImageTransform.identity(200, 100))
    assert [(d.class_id, d.label, round(d.score, 4)) for d in result.detections] == [
        (1, 'cat', 0.9), (2, 'dog', 0.9)]
    # Normalised 0.1, 0.2, 0.3, 0.6 of a 200x100 input.
    np.testing.assert_allclose(boxes_of(result.detections), [[20, 20, 60, 60]] * 2,
                               rtol=1e-6)
    auto = DetectionDecoder(200, 100)(ssd_outputs(), ImageTransform.identity(200, 100))
    assert len(auto.detections) == 2


def test_ssd_with_four_score_columns_uses_the_output_named_box() -> None:
    outputs = ssd_outputs(num_classes=4)
    reordered = {'bbox_out': outputs['boxes'], 'cls_out': outputs['scores']}
    decoder = DetectionDecoder(200, 100, layout='ssd')
    result = decoder(reordered, ImageTransform.identity(200, 100))
    assert [d.class_id for d in result.detections] == [1, 2]
    unnamed = {'a': outputs['scores'], 'b': outputs['boxes']}
    with pytest.raises(PostprocessError, match="'box'"):
        DetectionDecoder(200, 100, layout='ssd')(unnamed, IDENTITY)


def test_max_detections_and_empty_frames() -> None:
    rows = np.zeros((10, 5), dtype=np.float32)
    for i in range(5):   # five disjoint boxes with scores 0.55 .. 0.95
        rows[i] = [10 + 20 * i, 10, 10, 10, 0.55 + 0.1 * i]
    outputs = {'out': rows.T[None].copy()}
    result = DetectionDecoder(100, 100, max_detections=2)(outputs, IDENTITY)
    assert [round(d.score, 2) for d in result.detections] == [0.95, 0.85]
    nothing = DetectionDecoder(100, 100, score_threshold=0.99)(outputs, IDENTITY)
    assert nothing.task == 'detection' and nothing.detections == []


def test_full_size_yolov8_output_is_decoded() -> None:
    rng = np.random.default_rng(3)
    output = np.zeros((1, 84, 8400), dtype=np.float32)
    output[0, :2] = rng.uniform(0, 640, size=(2, 8400))
    output[0, 2:4] = rng.uniform(4, 100, size=(2, 8400))
    output[0, 4:] = rng.uniform(0, 0.6, size=(80, 8400))
    decoder = DetectionDecoder(640, 640, max_detections=50)
    result = decoder({'output0': output}, ImageTransform.identity(640, 640))
    assert 0 < len(result.detections) <= 50
    assert all(d.score >= 0.5 and 0 <= d.class_id < 80 for d in result.detections)
    scores = [d.score for d in result.detections]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize('layout, outputs, pattern', [
    ('yolov5', {'o': np.zeros((1, 2, 3, 4))}, r'\(1, 2, 3, 4\).*layout'),
    ('yolov5', {'o': np.zeros((1, 10, 5))}, r'\(1, 10, 5\).*layout'),
    ('yolov8', {'o': np.zeros((1, 4, 100))}, r'\(1, 4, 100\).*layout'),
    ('yolov8', {'o': np.zeros((2, 6, 100))}, r'\(2, 6, 100\).*layout'),
    ('yolov8', {'a': np.zeros((1, 6, 9)), 'b': np.zeros((1, 6, 9))}, r'one output.*layout'),
    ('ssd', {'o': np.zeros((1, 6, 9))}, r'two outputs.*layout'),
    ('ssd', {'s': np.zeros((1, 5, 3)), 'b': np.zeros((1, 6, 4))}, r'same N.*layout'),
    ('auto', {'a': np.zeros((1, 6, 9)), 'b': np.zeros((1, 6, 9)), 'c': np.zeros(3)},
     r'\(1, 6, 9\).*layout'),
    ('auto', {'o': np.zeros((6, 9))}, r'\(6, 9\).*layout'),
])
def test_bad_shapes_raise_postprocess_error(layout: str, outputs: Dict[str, np.ndarray],
                                            pattern: str) -> None:
    with pytest.raises(PostprocessError, match=pattern):
        DetectionDecoder(100, 100, layout=layout)(outputs, IDENTITY)


def test_detection_rejects_bad_parameters() -> None:
    with pytest.raises(ParameterError, match='yolov8'):
        DetectionDecoder(100, 100, layout='yolov7')
    with pytest.raises(ParameterError, match='score_threshold'):
        DetectionDecoder(100, 100, score_threshold=1.5)
    with pytest.raises(ParameterError, match='max_detections'):
        DetectionDecoder(100, 100, max_detections=0)


# -- factory ---------------------------------------------------------------------------------
def test_make_decoder_by_task_and_raw_passthrough() -> None:
    values = dict(defaults(), top_k=2, detection_layout='ssd', score_threshold=0.7)
    cls = make_decoder('classification', values, (), 10, 10)
    assert isinstance(cls, ClassificationDecoder) and cls.top_k == 2
    det = make_decoder('detection', values, ('bg', 'face'), 320, 240)
    assert isinstance(det, DetectionDecoder)
    assert (det.input_width, det.input_height, det.layout) == (320, 240, 'ssd')
    assert (det.score_threshold, det.labels) == (0.7, ['bg', 'face'])
    raw = make_decoder('raw', values, (), 10, 10)
    assert isinstance(raw, RawDecoder)
    outputs = {'a': np.arange(3), 'b': np.ones((2, 2))}
    result = raw(outputs, IDENTITY)
    assert result.task == 'raw' and result.detections == [] and result.classes == []
    assert set(result.raw) == {'a', 'b'} and result.raw['a'] is outputs['a']
    with pytest.raises(ParameterError, match='classification, detection, raw'):
        make_decoder('segmentation', values, (), 10, 10)


def test_every_task_is_declared_through_the_parameter_table() -> None:
    # The node declares what the registry holds: the task choices and each task's own
    # parameters, with the defaults its decoder uses when built from the table.
    assert SPECS['task'].choices == TASK_NAMES == tuple(TASKS)
    for task in TASKS.values():
        for spec in task.parameters:
            assert SPECS[spec.name] is spec, spec.name
    assert ClassificationDecoder().top_k == SPECS['top_k'].default
    assert DetectionDecoder(10, 10).score_threshold == SPECS['score_threshold'].default


def test_load_labels(tmp_path: Path) -> None:
    path = tmp_path / 'labels.txt'
    path.write_bytes(b'background\nface\r\n\ntraffic light\n\n')
    assert load_labels(str(path)) == ['background', 'face', '', 'traffic light']
    missing = tmp_path / 'nope.txt'
    with pytest.raises(PostprocessError, match='nope.txt'):
        load_labels(str(missing))
