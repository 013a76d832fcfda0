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

"""The tasks by name: the one list the node, the parameter table and the tools read.

A new task is one new module in this package that defines ``TASK`` (see
:class:`~accel_ai_ros.tasks.base.Task`), plus one entry in :data:`TASKS` below.
"""

from typing import Any
from typing import Dict
from typing import List
from typing import Mapping
from typing import Sequence
from typing import Tuple

from accel_ai_ros.errors import ParameterError
from accel_ai_ros.errors import PostprocessError
from accel_ai_ros.param_spec import ParamSpec
from accel_ai_ros.tasks import classification
from accel_ai_ros.tasks import detection
from accel_ai_ros.tasks import raw
from accel_ai_ros.tasks.base import Decoder
from accel_ai_ros.tasks.base import Task

TASKS: Dict[str, Task] = {task.name: task for task in (
    classification.TASK, detection.TASK, raw.TASK)}
TASK_NAMES: Tuple[str, ...] = tuple(TASKS)


def task_named(name: str) -> Task:
    """Return the task called ``name``, or raise ParameterError naming the choices."""
    task = TASKS.get(name)
    if task is None:
        raise ParameterError(f'task is {name!r}; set it to one of {", ".join(TASK_NAMES)}')
    return task


def task_parameters() -> Tuple[ParamSpec, ...]:
    """Return every task's own parameters, task after task, each name once."""
    specs: Dict[str, ParamSpec] = {}
    for task in TASKS.values():
        for spec in task.parameters:
            specs.setdefault(spec.name, spec)
    return tuple(specs.values())


def make_decoder(task: str, values: Mapping[str, Any], labels: Sequence[str],
                 input_width: int, input_height: int) -> Decoder:
    """Return the decoder of the task called ``task`` for these parameter ``values``."""
    return task_named(task).make_decoder(values, labels, input_width, input_height)


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
