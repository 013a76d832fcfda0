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

"""Top-k classification from a model's score vector."""

from typing import Dict
from typing import Sequence

import numpy as np

from accel_ai_ros.errors import ParameterError
from accel_ai_ros.errors import PostprocessError
from accel_ai_ros.tasks.results import ClassScore
from accel_ai_ros.tasks.results import InferenceResult
from accel_ai_ros.transform import ImageTransform

SOFTMAX_MODES = ('auto', 'always', 'never')

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

    def __init__(self, top_k: int = 5, labels: Sequence[str] = (),
                 apply_softmax: str = 'auto') -> None:
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
