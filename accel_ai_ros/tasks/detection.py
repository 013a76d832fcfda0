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

"""The detection task: boxes from the common output layouts (YOLOv5, YOLOv8/YOLO11, SSD).

Published on ``~/results`` as ``vision_msgs/Detection2DArray`` (boxes by centre and size in
image pixels, one hypothesis each) and drawn as boxes with their label and score.

Every layout ends the same way: a score threshold first (so only candidates go further), then
class-aware NMS (or class-agnostic when asked), a cap at ``max_detections``, and boxes mapped
from model-input pixels to original-image pixels through the frame's
:class:`~accel_ai_ros.transform.ImageTransform`.

Layouts:

- ``yolov5``: one output ``(1, N, 5 + C)``: ``cx, cy, w, h`` in model-input pixels,
  objectness, then C class scores; score = objectness * class score; each box keeps its best
  class (as Ultralytics does by default).
- ``yolov8`` (also YOLO11, same layout): one output ``(1, 4 + C, N)``, channels first, no
  objectness; score = best class score.
- ``ssd``: two outputs, scores ``(1, N, C)`` with background at column 0 (already softmaxed)
  and boxes ``(1, N, 4)`` corner boxes normalised to [0, 1] of the input size. The boxes are
  the output whose last dimension is 4; when both end in 4, the one whose name contains 'box'.
  Background is never reported, and ``class_id`` is the score column index, so the first real
  class is 1 (a face detector's face is class 1) and labels index by that id (label 0 is the
  background's). A box may be reported for several classes that pass the threshold.

``auto`` picks ``ssd`` for two outputs. For one 3-D output it picks ``yolov8`` when
dimension 1 is smaller than dimension 2 and ``yolov5`` otherwise. That heuristic assumes there
are more candidate boxes than channels, which holds for usual input sizes (8400 boxes at 640)
but not for a tiny input with many classes; end-to-end exports with NMS inside the model
(YOLOv10, ``(1, 300, 6)``) are not one of these layouts at all. Set ``layout`` explicitly
when in doubt.
"""

from typing import Any
from typing import Dict
from typing import List
from typing import Mapping
from typing import Sequence
from typing import Tuple

import cv2
import numpy as np

from accel_ai_ros.errors import ParameterError
from accel_ai_ros.errors import PostprocessError
from accel_ai_ros.param_spec import ParamSpec
from accel_ai_ros.tasks.base import copy_header
from accel_ai_ros.tasks.base import message_module
from accel_ai_ros.tasks.base import Task
from accel_ai_ros.tasks.nms import batched_nms
from accel_ai_ros.tasks.nms import nms
from accel_ai_ros.tasks.results import Detection
from accel_ai_ros.tasks.results import InferenceResult
from accel_ai_ros.transform import ImageTransform

DETECTION_LAYOUTS = ('auto', 'yolov5', 'yolov8', 'ssd')

LAYOUT = ParamSpec(
    'detection_layout', 'auto', 'Detection output layout (yolov8 also covers YOLO11; ssd is '
    'separate score and box outputs, with class 0 the background).', read_only=True,
    choices=DETECTION_LAYOUTS)
SCORE_THRESHOLD = ParamSpec('score_threshold', 0.5, 'Minimum detection score.', min_value=0.0,
                            max_value=1.0)
IOU_THRESHOLD = ParamSpec(
    'iou_threshold', 0.45, 'IoU above which non-maximum suppression drops the weaker box of '
    'the same class.', min_value=0.0, max_value=1.0)
MAX_DETECTIONS = ParamSpec('max_detections', 100, 'Most detections reported per frame.',
                           min_value=1, max_value=10000)

# Candidates in model-input pixels: corner boxes (K, 4), scores (K,), class ids (K,).
Candidates = Tuple[np.ndarray, np.ndarray, np.ndarray]


def _shapes(outputs: Dict[str, np.ndarray]) -> Dict[str, Tuple[int, ...]]:
    return {name: tuple(np.shape(value)) for name, value in outputs.items()}


def _cxcywh_to_xyxy(b: np.ndarray) -> np.ndarray:
    half_w = b[:, 2] * 0.5
    half_h = b[:, 3] * 0.5
    return np.stack([b[:, 0] - half_w, b[:, 1] - half_h,
                     b[:, 0] + half_w, b[:, 1] + half_h], axis=1)


def detect_layout(outputs: Dict[str, np.ndarray]) -> str:
    """Guess the layout of ``outputs`` (see the module docstring for the heuristic's limits)."""
    shapes = _shapes(outputs)
    if len(outputs) == 2:
        return 'ssd'
    if len(outputs) == 1:
        shape = next(iter(shapes.values()))
        if len(shape) == 3:
            return 'yolov8' if shape[1] < shape[2] else 'yolov5'
    raise PostprocessError(
        f'cannot tell the detection layout from output shapes {shapes}; expected one 3-D '
        f'output (YOLO) or two outputs (SSD scores and boxes); set the layout parameter to one '
        f'of {", ".join(DETECTION_LAYOUTS[1:])} if the model has one of those layouts')


class DetectionDecoder:
    """Decode a detector's outputs into :class:`~accel_ai_ros.tasks.results.Detection` values."""

    def __init__(self, input_width: int, input_height: int, layout: str = LAYOUT.default,
                 score_threshold: float = SCORE_THRESHOLD.default,
                 iou_threshold: float = IOU_THRESHOLD.default,
                 max_detections: int = MAX_DETECTIONS.default, labels: Sequence[str] = (),
                 class_agnostic: bool = False) -> None:
        if layout not in DETECTION_LAYOUTS:
            raise ParameterError(f'layout is {layout!r}; set it to one of '
                                 f'{", ".join(DETECTION_LAYOUTS)}')
        if int(input_width) < 1 or int(input_height) < 1:
            raise ParameterError(f'input size is {input_width}x{input_height}; set the model '
                                 f'input width and height to positive values')
        if not 0.0 <= float(score_threshold) <= 1.0:
            raise ParameterError(f'score_threshold is {score_threshold}; set it in [0, 1]')
        if not 0.0 <= float(iou_threshold) <= 1.0:
            raise ParameterError(f'iou_threshold is {iou_threshold}; set it in [0, 1]')
        if int(max_detections) < 1:
            raise ParameterError(f'max_detections is {max_detections}; set it to 1 or more')
        self.input_width = int(input_width)
        self.input_height = int(input_height)
        self.layout = layout
        self.score_threshold = float(score_threshold)
        self.iou_threshold = float(iou_threshold)
        self.max_detections = int(max_detections)
        self.labels = list(labels)
        self.class_agnostic = bool(class_agnostic)

    # -- layouts -------------------------------------------------------------------------
    def _single(self, outputs: Dict[str, np.ndarray], layout: str) -> np.ndarray:
        if len(outputs) != 1:
            raise PostprocessError(
                f'layout {layout!r} expects one output, got shapes {_shapes(outputs)}; set the '
                f"layout parameter ('ssd' takes two outputs)")
        array = np.asarray(next(iter(outputs.values())))
        if array.ndim == 3 and array.shape[0] == 1:
            array = array[0]
        if array.ndim != 2:
            raise PostprocessError(
                f'layout {layout!r} expects one output of shape (1, N, 5 + C) for yolov5 or '
                f'(1, 4 + C, N) for yolov8, got shapes {_shapes(outputs)}; batch size must be '
                f'1; set the layout parameter to match the model')
        return array

    def _implausible(self, layout: str, outputs: Dict[str, np.ndarray],
                     why: str) -> PostprocessError:
        """Return the error for outputs that ``layout`` cannot be reading right."""
        shapes = _shapes(outputs)
        fits = [other for other in ('yolov5', 'yolov8') if other != layout
                and _plausible(other, outputs, len(self.labels))]
        hint = (f"detection_layout '{fits[0]}' fits these outputs: set it" if fits else
                'set detection_layout to the layout the model was exported with (see the '
                'detection docs)')
        return PostprocessError(f'detection_layout {layout!r} cannot be right for output '
                                f'shapes {shapes}: {why}; {hint}.')

    def _check_classes(self, layout: str, outputs: Dict[str, np.ndarray],
                       classes: int) -> None:
        if self.labels and classes < len(self.labels):
            raise self._implausible(
                layout, outputs, f'it reads {classes} classes but labels_file has '
                f'{len(self.labels)}')

    def _check_scores(self, layout: str, outputs: Dict[str, np.ndarray], what: str,
                      highest: float, lowest: float) -> None:
        if highest > 1.0 + 1e-3 or lowest < -1e-3:
            raise self._implausible(
                layout, outputs, f'{what} range from {lowest:.4g} to {highest:.4g}, not within '
                '[0, 1]')

    def _yolov5(self, outputs: Dict[str, np.ndarray]) -> Candidates:
        pred = self._single(outputs, 'yolov5')
        if pred.shape[1] < 6:
            raise PostprocessError(
                f'layout yolov5 expects (1, N, 5 + C) with C >= 1, got shapes '
                f"{_shapes(outputs)}; set the layout parameter (channels first is 'yolov8')")
        self._check_classes('yolov5', outputs, pred.shape[1] - 5)
        objectness = pred[:, 4]
        self._check_scores('yolov5', outputs, 'objectness scores', float(objectness.max()),
                           float(objectness.min()))
        # score = obj * cls <= obj, so objectness alone filters first.
        pred = pred[pred[:, 4] >= self.score_threshold].astype(np.float32, copy=False)
        cls_scores = pred[:, 5:] * pred[:, 4:5]
        class_ids = np.argmax(cls_scores, axis=1)
        scores = cls_scores[np.arange(pred.shape[0]), class_ids]
        if scores.size:
            self._check_scores('yolov5', outputs, 'class scores', float(scores.max()),
                               float(cls_scores.min()))
        keep = scores >= self.score_threshold
        return _cxcywh_to_xyxy(pred[keep, :4]), scores[keep], class_ids[keep]

    def _yolov8(self, outputs: Dict[str, np.ndarray]) -> Candidates:
        pred = self._single(outputs, 'yolov8')
        if pred.shape[0] < 5:
            raise PostprocessError(
                f'layout yolov8 expects (1, 4 + C, N) with C >= 1, got shapes '
                f"{_shapes(outputs)}; set the layout parameter (objectness models are 'yolov5')")
        self._check_classes('yolov8', outputs, pred.shape[0] - 4)
        cls_scores = pred[4:]
        best = cls_scores.max(axis=0)
        self._check_scores('yolov8', outputs, 'class scores', float(best.max()),
                           float(best.min()))
        idx = np.nonzero(best >= self.score_threshold)[0]
        class_ids = np.argmax(cls_scores[:, idx], axis=0)
        scores = best[idx].astype(np.float32)
        boxes = pred[:4, idx].T.astype(np.float32)
        return _cxcywh_to_xyxy(boxes), scores, class_ids

    def _ssd_split(self, outputs: Dict[str, np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
        shapes = _shapes(outputs)
        if len(outputs) != 2:
            raise PostprocessError(
                f'layout ssd expects two outputs, scores (1, N, C) and boxes (1, N, 4), got '
                f'shapes {shapes}; set the layout parameter to yolov5 or yolov8 for one output')
        names = list(outputs)
        fours = [n for n in names if len(shapes[n]) >= 1 and shapes[n][-1] == 4]
        if len(fours) == 2:
            fours = [n for n in names if 'box' in n.lower()]
        if len(fours) != 1:
            raise PostprocessError(
                f'layout ssd cannot tell scores from boxes in outputs {shapes}: the boxes are '
                f'the output whose last dimension is 4 (or, if both are, whose name contains '
                f"'box'); check that this is an SSD-style model or set the layout parameter")
        box_name = fours[0]
        score_name = names[1] if names[0] == box_name else names[0]
        boxes = np.asarray(outputs[box_name])
        scores = np.asarray(outputs[score_name])
        if boxes.ndim == 3 and boxes.shape[0] == 1:
            boxes = boxes[0]
        if scores.ndim == 3 and scores.shape[0] == 1:
            scores = scores[0]
        if (boxes.ndim != 2 or scores.ndim != 2 or boxes.shape[0] != scores.shape[0]
                or scores.shape[1] < 2):
            raise PostprocessError(
                f'layout ssd expects scores (1, N, C) with C >= 2 (background first) and boxes '
                f'(1, N, 4) with the same N, got shapes {shapes}; batch size must be 1; set '
                f'the layout parameter to match the model')
        return boxes, scores

    def _ssd(self, outputs: Dict[str, np.ndarray]) -> Candidates:
        boxes, scores = self._ssd_split(outputs)
        rows, cols = np.nonzero(scores[:, 1:] >= self.score_threshold)
        class_ids = cols + 1
        picked = scores[rows, class_ids].astype(np.float32)
        scale = np.array([self.input_width, self.input_height,
                          self.input_width, self.input_height], dtype=np.float32)
        return boxes[rows].astype(np.float32) * scale, picked, class_ids

    # -- decoding ------------------------------------------------------------------------
    def candidates(self, outputs: Dict[str, np.ndarray]) -> Candidates:
        """Return thresholded candidates in model-input pixels, before NMS."""
        layout = self.layout if self.layout != 'auto' else detect_layout(outputs)
        if layout == 'yolov5':
            return self._yolov5(outputs)
        if layout == 'yolov8':
            return self._yolov8(outputs)
        return self._ssd(outputs)

    def __call__(self, outputs: Dict[str, np.ndarray],
                 transform: ImageTransform) -> InferenceResult:
        """Return a detection result with boxes in original-image pixels, best first."""
        boxes, scores, class_ids = self.candidates(outputs)
        cap = self.max_detections + 1          # one more than allowed: tells a cut happened
        if self.class_agnostic:
            keep = nms(boxes, scores, self.iou_threshold, cap)
        else:
            keep = batched_nms(boxes, scores, class_ids, self.iou_threshold, cap)
        truncated = len(keep) > self.max_detections
        keep = keep[:self.max_detections]
        image_boxes = transform.boxes_to_image(boxes[keep])
        detections: List[Detection] = []
        for (x1, y1, x2, y2), score, class_id in zip(
                image_boxes.tolist(), scores[keep].tolist(), class_ids[keep].tolist()):
            label = self.labels[class_id] if 0 <= class_id < len(self.labels) else ''
            detections.append(Detection(x1=x1, y1=y1, x2=x2, y2=y2, score=score,
                                        class_id=int(class_id), label=label))
        return InferenceResult(task='detection', detections=detections, truncated=truncated)


def _plausible(layout: str, outputs: Dict[str, np.ndarray], labels: int) -> bool:
    """Return True when one YOLO output reads sensibly as ``layout`` (shape and scores)."""
    if len(outputs) != 1:
        return False
    array = np.asarray(next(iter(outputs.values())))
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        return False
    if layout == 'yolov8':
        scores, classes = array[4:], array.shape[0] - 4
    else:
        scores, classes = array[:, 4:], array.shape[1] - 5
    if classes < 1 or (labels and classes != labels):
        return False
    return bool(scores.size) and -1e-3 <= float(scores.min()) and float(scores.max()) <= 1 + 1e-3


def make_decoder(values: Mapping[str, Any], labels: Sequence[str], input_width: int,
                 input_height: int) -> DetectionDecoder:
    """Return the decoder for this task's parameter ``values`` and the model input's size."""
    return DetectionDecoder(
        input_width, input_height, layout=str(values[LAYOUT.name]),
        score_threshold=float(values[SCORE_THRESHOLD.name]),
        iou_threshold=float(values[IOU_THRESHOLD.name]),
        max_detections=int(values[MAX_DETECTIONS.name]), labels=labels)


def message_type() -> type:
    """Return ``vision_msgs/Detection2DArray``."""
    return message_module('vision_msgs').Detection2DArray


def to_msg(result: InferenceResult, header: Any) -> Any:
    """Return the detections of ``result`` as a Detection2DArray stamped with ``header``.

    Each Detection2D carries the header too, a box given by its centre and size in pixels
    and one hypothesis whose class_id is the label, or the class index when there is none.
    """
    vision_msgs = message_module('vision_msgs')
    # One copy of the input header per frame, shared by the array and its detections.
    header = copy_header(header)
    msg = vision_msgs.Detection2DArray(header=header)
    for det in result.detections:
        x1, y1, x2, y2 = float(det.x1), float(det.y1), float(det.x2), float(det.y2)
        bbox = vision_msgs.BoundingBox2D(size_x=x2 - x1, size_y=y2 - y1)
        bbox.center.position.x = (x1 + x2) / 2.0
        bbox.center.position.y = (y1 + y2) / 2.0
        hypothesis = vision_msgs.ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = det.label or str(int(det.class_id))
        hypothesis.hypothesis.score = float(det.score)
        msg.detections.append(vision_msgs.Detection2D(
            header=header, results=[hypothesis], bbox=bbox))
    return msg


def _colour(class_id: int) -> Tuple[int, int, int]:
    hue = (class_id * 47) % 180
    hsv = np.array([[[hue, 220, 255]]], dtype=np.uint8)
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


def draw(canvas: np.ndarray, result: InferenceResult) -> None:
    """Draw each box with its label (or class id) and score, one colour per class."""
    thickness = max(1, round(min(canvas.shape[:2]) / 300))
    for det in result.detections:
        colour = _colour(det.class_id)
        p1 = (int(round(det.x1)), int(round(det.y1)))
        p2 = (int(round(det.x2)), int(round(det.y2)))
        cv2.rectangle(canvas, p1, p2, colour, thickness)
        text = f'{det.label or det.class_id} {det.score:.2f}'
        cv2.putText(canvas, text, (p1[0], max(12, p1[1] - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4 * thickness, colour, thickness)


TASK = Task(
    name='detection', description='boxes with class and score, in image pixels',
    parameters=(LAYOUT, SCORE_THRESHOLD, IOU_THRESHOLD, MAX_DETECTIONS),
    make_decoder=make_decoder, message_type=message_type, to_msg=to_msg, draw=draw)
