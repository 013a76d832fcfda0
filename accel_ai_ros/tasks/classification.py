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

"""The classification task: top-k classes from a model's score vector.

Published on ``~/results`` as ``vision_msgs/Classification`` (class id: the label, or the
class index when there is none) and drawn as the top classes in the image's corner.
"""

from typing import Any
from typing import Dict
from typing import Mapping
from typing import Sequence

import cv2
import numpy as np

from accel_ai_ros.errors import ParameterError
from accel_ai_ros.errors import PostprocessError
from accel_ai_ros.param_spec import ParamSpec
from accel_ai_ros.tasks.base import copy_header
from accel_ai_ros.tasks.base import message_module
from accel_ai_ros.tasks.base import Task
from accel_ai_ros.tasks.results import ClassScore
from accel_ai_ros.tasks.results import InferenceResult
from accel_ai_ros.transform import ImageTransform

SOFTMAX_MODES = ('auto', 'always', 'never')

TOP_K = ParamSpec('top_k', 5, 'Classes reported per frame (classification).', min_value=1,
                  max_value=1000)
APPLY_SOFTMAX = ParamSpec(
    'apply_softmax', 'auto', 'Softmax over classification outputs: auto applies it when the '
    'outputs are not probabilities already.', choices=SOFTMAX_MODES)

#: How far from 1 the sum of a score vector may be and still count as probabilities.
_SUM_TOLERANCE = 1e-2


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Return the numerically stable softmax of ``x`` along ``axis``."""
    x = np.asarray(x, dtype=np.float64)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def is_probability_vector(x: np.ndarray) -> bool:
    """Return True when ``x`` is already a probability distribution (within a tolerance)."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0 or not np.all(np.isfinite(x)):
        return False
    return bool(x.min() >= 0.0 and x.max() <= 1.0 and abs(x.sum() - 1.0) <= _SUM_TOLERANCE)


class ClassificationDecoder:
    """Turn a classifier's output into the ``top_k`` classes, best first.

    The first output (in engine order) is used. Its shape must hold one score vector:
    ``(C,)``, ``(1, C)`` or ``(1, C, 1, 1)`` all work. ``apply_softmax`` is ``'auto'`` (apply
    it when the values are not already a probability distribution: any value below 0 or above
    1, or a sum further than 0.01 from 1), ``'always'`` or ``'never'``. Labels index by class id;
    a class without a label gets ``''``.
    """

    def __init__(self, top_k: int = TOP_K.default, labels: Sequence[str] = (),
                 apply_softmax: str = APPLY_SOFTMAX.default) -> None:
        if int(top_k) < 1:
            raise ParameterError(f'top_k is {top_k}; set it to 1 or more')
        if apply_softmax not in SOFTMAX_MODES:
            raise ParameterError(f'apply_softmax is {apply_softmax!r}; set it to one of '
                                 f'{", ".join(SOFTMAX_MODES)}')
        self.top_k = int(top_k)
        self.labels = list(labels)
        self.apply_softmax = apply_softmax

    def _scores(self, outputs: Dict[str, np.ndarray]) -> np.ndarray:
        if not outputs:
            raise PostprocessError('the model produced no outputs; a classifier needs one '
                                   'score vector')
        name, value = next(iter(outputs.items()))
        array = np.asarray(value)
        squeezed = array.reshape([d for d in array.shape if d != 1] or [array.size])
        if squeezed.ndim != 1:
            shapes = {k: tuple(np.shape(v)) for k, v in outputs.items()}
            raise PostprocessError(
                f'classification expects output {name!r} to hold one score vector such as '
                f'(1, C), got shapes {shapes}; batch size must be 1, and a detector needs '
                f"task 'detection'")
        return squeezed.astype(np.float64)

    def __call__(self, outputs: Dict[str, np.ndarray],
                 transform: ImageTransform) -> InferenceResult:
        """Return a classification result holding the top-k classes sorted by score."""
        scores = self._scores(outputs)
        if self.apply_softmax == 'always' or (
                self.apply_softmax == 'auto' and not is_probability_vector(scores)):
            scores = softmax(scores)
        k = min(self.top_k, scores.shape[0])
        if k < scores.shape[0]:
            top = np.argpartition(-scores, k - 1)[:k]
        else:
            top = np.arange(scores.shape[0])
        top = top[np.lexsort((top, -scores[top]))]
        classes = [
            ClassScore(class_id=int(i), score=float(scores[i]),
                       label=self.labels[i] if i < len(self.labels) else '')
            for i in top
        ]
        return InferenceResult(task='classification', classes=classes)


def make_decoder(values: Mapping[str, Any], labels: Sequence[str], input_width: int,
                 input_height: int) -> ClassificationDecoder:
    """Return the decoder for this task's parameter ``values`` (the input size is unused)."""
    return ClassificationDecoder(top_k=int(values[TOP_K.name]), labels=labels,
                                 apply_softmax=str(values[APPLY_SOFTMAX.name]))


def message_type() -> type:
    """Return ``vision_msgs/Classification``."""
    return message_module('vision_msgs').Classification


def to_msg(result: InferenceResult, header: Any) -> Any:
    """Return the class scores of ``result``, in their order, as a Classification."""
    vision_msgs = message_module('vision_msgs')
    return vision_msgs.Classification(
        header=copy_header(header),
        results=[vision_msgs.ObjectHypothesis(class_id=c.label or str(int(c.class_id)),
                                              score=float(c.score))
                 for c in result.classes])


def draw(canvas: np.ndarray, result: InferenceResult) -> None:
    """Write the five best classes and their scores in the canvas's top-left corner."""
    thickness = max(1, round(min(canvas.shape[:2]) / 300))
    for rank, cls in enumerate(result.classes[:5]):
        text = f'{cls.label or cls.class_id}: {cls.score:.2f}'
        cv2.putText(canvas, text, (8, 20 + 18 * rank * thickness), cv2.FONT_HERSHEY_SIMPLEX,
                    0.5 * thickness, (0, 255, 0), thickness)


TASK = Task(
    name='classification', description='top-k classes of a score vector',
    parameters=(TOP_K, APPLY_SOFTMAX), make_decoder=make_decoder, message_type=message_type,
    to_msg=to_msg, draw=draw)
