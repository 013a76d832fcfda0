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

"""Box overlap and non-maximum suppression in vectorised numpy.

Boxes are ``(N, 4)`` corner boxes ``x1, y1, x2, y2`` in any one pixel space. The greedy
suppression loop runs once per *kept* box, each step comparing it with every remaining box in
one numpy operation, so it never loops over candidates in Python.
"""

from typing import List
from typing import Optional

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the ``(N, M)`` intersection over union of ``(N, 4)`` and ``(M, 4)`` boxes.

    Boxes with no area (``x2 <= x1`` or ``y2 <= y1``) overlap nothing; a pair whose union is
    empty has IoU 0.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    area_a = np.clip(a[:, 2] - a[:, 0], 0.0, None) * np.clip(a[:, 3] - a[:, 1], 0.0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0.0, None) * np.clip(b[:, 3] - b[:, 1], 0.0, None)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0.0, None) * np.clip(ih, 0.0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = np.where(union > 0.0, inter / np.where(union > 0.0, union, 1.0), 0.0)
    return iou


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float,
        max_output: Optional[int] = None) -> np.ndarray:
    """Return the indices of the boxes kept by greedy NMS, highest score first.

    A box is suppressed when its IoU with a higher-scoring kept box is greater than
    ``iou_threshold``. Equal scores keep the lower index first (a stable order). With
    ``max_output``, suppression stops once that many boxes are kept (the same first
    ``max_output`` indices, found sooner).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if boxes.shape[0] != scores.shape[0]:
        raise ValueError(f'nms got {boxes.shape[0]} boxes and {scores.shape[0]} scores')
    if boxes.shape[0] == 0:
        return np.zeros((0,), dtype=np.int64)
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = np.clip(x2 - x1, 0.0, None) * np.clip(y2 - y1, 0.0, None)
    order = np.argsort(-scores, kind='stable')
    limit = boxes.shape[0] if max_output is None else max(int(max_output), 0)
    keep: List[int] = []
    while order.size > 0 and len(keep) < limit:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        iw = np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest])
        ih = np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest])
        inter = np.clip(iw, 0.0, None) * np.clip(ih, 0.0, None)
        union = areas[i] + areas[rest] - inter
        with np.errstate(divide='ignore', invalid='ignore'):
            iou = np.where(union > 0.0, inter / np.where(union > 0.0, union, 1.0), 0.0)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray,
                iou_threshold: float, max_output: Optional[int] = None) -> np.ndarray:
    """Return the indices kept by class-aware NMS, highest score first.

    Boxes of different classes never suppress each other: each class is shifted to its own
    region of the plane (the torchvision ``batched_nms`` trick), then one NMS runs.
    ``max_output`` works as in :func:`nms`.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    class_ids = np.asarray(class_ids).reshape(-1)
    if boxes.shape[0] != class_ids.shape[0]:
        raise ValueError(f'batched_nms got {boxes.shape[0]} boxes and '
                         f'{class_ids.shape[0]} class ids')
    if boxes.shape[0] == 0:
        return np.zeros((0,), dtype=np.int64)
    lo = float(boxes.min())
    span = float(boxes.max()) - lo + 1.0
    offsets = (class_ids.astype(np.float64) * span)[:, None]
    return nms(boxes - lo + offsets, scores, iou_threshold, max_output)
