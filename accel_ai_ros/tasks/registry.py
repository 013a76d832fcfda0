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

"""Pick a decoder by task name, and read label files."""

from typing import Callable
from typing import Dict
from typing import List
from typing import Sequence

import numpy as np

from accel_ai_ros.errors import ParameterError
from accel_ai_ros.errors import PostprocessError
from accel_ai_ros.tasks.classification import ClassificationDecoder
from accel_ai_ros.tasks.detection import DetectionDecoder
from accel_ai_ros.tasks.results import InferenceResult
from accel_ai_ros.transform import ImageTransform

TASKS = ('classification', 'detection', 'raw')

Decoder = Callable[[Dict[str, np.ndarray], ImageTransform], InferenceResult]


class RawDecoder:
    """Pass the output tensors through unchanged, for models no decoder understands."""

    def __call__(self, outputs: Dict[str, np.ndarray],
                 transform: ImageTransform) -> InferenceResult:
        """Return a raw result holding ``outputs`` as they are."""
        return InferenceResult(task='raw', raw=dict(outputs))


def make_decoder(task: str, *, input_width: int, input_height: int, top_k: int = 5,
                 labels: Sequence[str] = (), score_threshold: float = 0.5,
                 iou_threshold: float = 0.45, layout: str = 'auto',
                 max_detections: int = 100, apply_softmax: str = 'auto',
                 class_agnostic: bool = False) -> Decoder:
    """Return the decoder for ``task``; invalid values raise ParameterError naming the choices.

    ``input_width`` and ``input_height`` are the model input's size in pixels (detection maps
    normalised boxes with them). Parameters that do not concern the task are ignored.
    """
    if task == 'classification':
        return ClassificationDecoder(top_k=top_k, labels=labels, apply_softmax=apply_softmax)
    if task == 'detection':
        return DetectionDecoder(input_width, input_height, layout=layout,
                                score_threshold=score_threshold, iou_threshold=iou_threshold,
                                max_detections=max_detections, labels=labels,
                                class_agnostic=class_agnostic)
    if task == 'raw':
        return RawDecoder()
    raise ParameterError(f'task is {task!r}; set it to one of {", ".join(TASKS)}')


def load_labels(path: str) -> List[str]:
    """Return the labels in ``path``, one per line; line n is the label of class id n.

    Surrounding whitespace is stripped; blank lines inside the file are kept (as ``''``) so
    that later ids do not shift; a trailing blank line ends the file.
    """
    try:
        with open(path, 'r', encoding='utf-8') as handle:
            text = handle.read()
    except OSError as exc:
        raise PostprocessError(
            f'cannot read the labels file {path!r} ({exc.strerror or exc}); set the labels '
            f"path to a UTF-8 text file with one label per line, or to '' for no labels"
        ) from exc
    except UnicodeDecodeError as exc:
        raise PostprocessError(
            f'the labels file {path!r} is not UTF-8 text ({exc.reason}); save it as UTF-8 '
            f'with one label per line') from exc
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines
