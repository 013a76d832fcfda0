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

"""Accuracy and agreement metrics, pure NumPy (no files, no rclpy).

With labels:

- :func:`top_k_accuracy`: the share of images whose label is among the first ``k`` classes.
- :func:`mean_average_precision`: mAP at one IoU threshold (0.5 by default) for COCO-style
  ground truth, with **COCO's 101-point interpolation**: detections of a class are sorted by
  score (over all images), each is matched greedily, in score order, to the unmatched
  ground-truth box of its image and class with the highest IoU at or above the threshold; the
  precision envelope (precision made non-increasing in recall) is sampled at recall 0, 0.01,
  ..., 1.00, a recall the detector never reaches counting as precision 0, and the 101 values
  are averaged. mAP is the mean over the classes that have ground truth. Ground truth marked
  ``ignore`` (COCO's ``iscrowd``) neither counts as a positive nor makes a match a false
  positive. Unlike pycocotools there is no area range and no cap on detections per image.

Without labels, against a reference (the FP32 variant's outputs):

- :func:`top1_agreement`: the share of images with the same top-1 class.
- :func:`box_agreement`: greedy IoU matching at 0.5 (highest IoU first, same class only)
  between the boxes of a variant and those of the reference; precision, recall and F1 of the
  variant's boxes against the reference ones, and the mean IoU of the matched pairs.
- :func:`mean_cosine_similarity`: cosine similarity of the flattened raw outputs, per image,
  averaged.
"""

from dataclasses import dataclass
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple

import numpy as np

from accel_ai_ros.errors import ParameterError

Box = Tuple[float, float, float, float]

#: The recall points of COCO's interpolated average precision.
COCO_RECALL_POINTS = np.linspace(0.0, 1.0, 101)


@dataclass(frozen=True)
class BoxLabel:
    """One ground-truth or predicted box: corners in image pixels, class, score, flags.

    ``score`` matters for predictions only; ``ignore`` for ground truth only (COCO's crowd
    regions).
    """

    x1: float
    y1: float
    x2: float
    y2: float
    class_id: int
    score: float = 1.0
    ignore: bool = False

    @property
    def box(self) -> Box:
        """Return the corners ``(x1, y1, x2, y2)``."""
        return (self.x1, self.y1, self.x2, self.y2)


def top_k_accuracy(ranked: Sequence[Sequence[int]], labels: Sequence[int], k: int = 1) -> float:
    """Return the share of images whose label is among the first ``k`` ranked classes.

    ``ranked[i]`` lists image ``i``'s class ids, best first (it may be shorter than ``k``).
    """
    if k < 1:
        raise ParameterError(f'k is {k}; top-k accuracy needs k >= 1')
    if len(ranked) != len(labels):
        raise ParameterError(f'{len(ranked)} predictions for {len(labels)} labels; give one '
                             f'prediction per labelled image')
    if not labels:
        raise ParameterError('top-k accuracy needs at least one labelled image')
    hits = sum(1 for classes, label in zip(ranked, labels) if int(label) in
               [int(c) for c in list(classes)[:k]])
    return hits / len(labels)


def top1_agreement(ranked: Sequence[Sequence[int]],
                   reference: Sequence[Sequence[int]]) -> float:
    """Return the share of images whose top-1 class equals the reference's top-1 class.

    An image with no class in either list agrees only when both are empty.
    """
    if len(ranked) != len(reference):
        raise ParameterError(f'{len(ranked)} predictions against {len(reference)} reference '
                             f'predictions; run both on the same images')
    if not ranked:
        raise ParameterError('agreement needs at least one image')
    same = 0
    for a, b in zip(ranked, reference):
        first_a = int(a[0]) if len(a) else None
        first_b = int(b[0]) if len(b) else None
        same += first_a == first_b
    return same / len(ranked)


def iou_matrix(a: Sequence[Box], b: Sequence[Box]) -> np.ndarray:
    """Return the ``(len(a), len(b))`` intersection-over-union matrix of corner boxes."""
    boxes_a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    boxes_b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x1 = np.maximum(boxes_a[:, None, 0], boxes_b[None, :, 0])
    y1 = np.maximum(boxes_a[:, None, 1], boxes_b[None, :, 1])
    x2 = np.minimum(boxes_a[:, None, 2], boxes_b[None, :, 2])
    y2 = np.minimum(boxes_a[:, None, 3], boxes_b[None, :, 3])
    inter = np.clip(x2 - x1, 0.0, None) * np.clip(y2 - y1, 0.0, None)
    area_a = np.clip(boxes_a[:, 2] - boxes_a[:, 0], 0.0, None) * \
        np.clip(boxes_a[:, 3] - boxes_a[:, 1], 0.0, None)
    area_b = np.clip(boxes_b[:, 2] - boxes_b[:, 0], 0.0, None) * \
        np.clip(boxes_b[:, 3] - boxes_b[:, 1], 0.0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide='ignore', invalid='ignore'):
        return np.where(union > 0.0, inter / np.where(union > 0.0, union, 1.0), 0.0)


def interpolated_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """Return COCO's 101-point interpolated average precision of one precision/recall curve.

    ``recall`` must be non-decreasing (detections in score order).
    """
    if len(recall) == 0:
        return 0.0
    envelope = np.maximum.accumulate(np.asarray(precision, dtype=np.float64)[::-1])[::-1]
    index = np.searchsorted(np.asarray(recall, dtype=np.float64), COCO_RECALL_POINTS,
                            side='left')
    sampled = np.where(index < len(envelope),
                       envelope[np.minimum(index, len(envelope) - 1)], 0.0)
    return float(np.mean(sampled))


def _match_image(predictions: List[BoxLabel], truth: List[BoxLabel],
                 iou_threshold: float) -> List[Optional[bool]]:
    """Match one image's predictions of one class; True TP, False FP, None ignored."""
    order = sorted(range(len(predictions)), key=lambda i: -predictions[i].score)
    # Ground truth that counts first, as in COCO, so a crowd match is the last resort.
    truth = sorted(truth, key=lambda t: t.ignore)
    ious = iou_matrix([p.box for p in predictions], [t.box for t in truth])
    taken = [False] * len(truth)
    outcome: List[Optional[bool]] = [False] * len(predictions)
    for i in order:
        best, best_iou = -1, iou_threshold
        for j, gt in enumerate(truth):
            if taken[j] and not gt.ignore:
                continue
            if best >= 0 and not truth[best].ignore and gt.ignore:
                break
            if ious[i, j] >= best_iou:
                best, best_iou = j, float(ious[i, j])
        if best >= 0:
            taken[best] = True
            outcome[i] = None if truth[best].ignore else True
    return outcome


def average_precision_per_class(
    predictions: Sequence[Sequence[BoxLabel]], truth: Sequence[Sequence[BoxLabel]],
    iou_threshold: float = 0.5, class_agnostic: bool = False,
) -> Dict[int, float]:
    """Return the 101-point AP of every class that has (non-ignored) ground truth.

    ``predictions[i]`` and ``truth[i]`` belong to image ``i``. With ``class_agnostic`` every
    box counts as class 0.
    """
    if len(predictions) != len(truth):
        raise ParameterError(f'{len(predictions)} prediction lists for {len(truth)} annotated '
                             f'images; give one list per image')

    def cls(box: BoxLabel) -> int:
        return 0 if class_agnostic else int(box.class_id)

    classes = sorted({cls(t) for image in truth for t in image if not t.ignore})
    result: Dict[int, float] = {}
    for c in classes:
        scored: List[Tuple[float, bool]] = []
        positives = 0
        for preds, gts in zip(predictions, truth):
            mine = [p for p in preds if cls(p) == c]
            theirs = [t for t in gts if cls(t) == c]
            positives += sum(1 for t in theirs if not t.ignore)
            for p, hit in zip(mine, _match_image(mine, theirs, iou_threshold)):
                if hit is not None:
                    scored.append((p.score, hit))
        scored.sort(key=lambda s: -s[0])  # sort() is stable, like COCO's mergesort
        hits = np.array([h for _, h in scored], dtype=bool)
        tp = np.cumsum(hits)
        fp = np.cumsum(~hits)
        recall = tp / positives
        precision = tp / np.maximum(tp + fp, 1)
        result[c] = interpolated_ap(recall, precision)
    return result


def mean_average_precision(
    predictions: Sequence[Sequence[BoxLabel]], truth: Sequence[Sequence[BoxLabel]],
    iou_threshold: float = 0.5, class_agnostic: bool = False,
) -> float:
    """Return mAP@``iou_threshold``: the mean 101-point AP over classes with ground truth."""
    per_class = average_precision_per_class(predictions, truth, iou_threshold, class_agnostic)
    if not per_class:
        raise ParameterError('the annotations hold no ground-truth box; mAP needs at least '
                             'one')
    return float(np.mean(list(per_class.values())))


@dataclass(frozen=True)
class BoxAgreement:
    """How well a variant's boxes reproduce the reference's boxes."""

    precision: float
    recall: float
    f1: float
    mean_iou: Optional[float]
    matched: int
    predicted: int
    reference: int


def box_agreement(predictions: Sequence[Sequence[BoxLabel]],
                  reference: Sequence[Sequence[BoxLabel]],
                  iou_threshold: float = 0.5) -> BoxAgreement:
    """Match boxes greedily (highest IoU first, same class, IoU >= threshold), per image.

    Precision is matched / predicted boxes (1.0 with no predicted box), recall matched /
    reference boxes (1.0 with no reference box); ``mean_iou`` averages the matched pairs
    (None when nothing matched).
    """
    if len(predictions) != len(reference):
        raise ParameterError(f'{len(predictions)} prediction lists against {len(reference)} '
                             f'reference lists; run both on the same images')
    matched_ious: List[float] = []
    n_pred = sum(len(p) for p in predictions)
    n_ref = sum(len(r) for r in reference)
    for preds, refs in zip(predictions, reference):
        if not preds or not refs:
            continue
        ious = iou_matrix([p.box for p in preds], [r.box for r in refs])
        same = np.array([[p.class_id == r.class_id for r in refs] for p in preds])
        ious = np.where(same, ious, 0.0)
        pairs = sorted(((float(ious[i, j]), i, j) for i in range(len(preds))
                        for j in range(len(refs)) if ious[i, j] >= iou_threshold),
                       key=lambda t: (-t[0], t[1], t[2]))
        used_p, used_r = set(), set()
        for value, i, j in pairs:
            if i not in used_p and j not in used_r:
                used_p.add(i)
                used_r.add(j)
                matched_ious.append(value)
    matched = len(matched_ious)
    precision = matched / n_pred if n_pred else 1.0
    recall = matched / n_ref if n_ref else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    mean_iou = float(np.mean(matched_ious)) if matched_ious else None
    return BoxAgreement(precision, recall, f1, mean_iou, matched, n_pred, n_ref)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Return the cosine similarity of two flattened arrays (1.0 when both are all zero)."""
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ParameterError(f'cannot compare outputs of {x.size} and {y.size} values; the '
                             f'variants must have the same output shapes')
    nx, ny = float(np.linalg.norm(x)), float(np.linalg.norm(y))
    if nx == 0.0 or ny == 0.0:
        return 1.0 if nx == ny else 0.0
    return float(np.dot(x, y) / (nx * ny))


def mean_cosine_similarity(outputs: Sequence[np.ndarray],
                           reference: Sequence[np.ndarray]) -> float:
    """Return the mean, over images, of the cosine similarity of outputs and reference."""
    if len(outputs) != len(reference) or not outputs:
        raise ParameterError(f'{len(outputs)} outputs against {len(reference)} reference '
                             f'outputs; run both on the same, non-empty set of images')
    return float(np.mean([cosine_similarity(a, b) for a, b in zip(outputs, reference)]))
