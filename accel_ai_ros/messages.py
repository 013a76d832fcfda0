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

"""The messages every task shares (message types only, no node code).

Output tensors become ``std_msgs/Float32MultiArray``, latency ``std_msgs/Float32`` and status
``diagnostic_msgs/DiagnosticArray``; each task turns its own results into its message
(:mod:`accel_ai_ros.tasks`).

Tensor layout of ``~/output``: the outputs, in the order the engine lists them, are flattened
in C order and concatenated into ``data``; ``data_offset`` is 0. ``layout.dim`` holds one
entry per axis of each output, output after output, labelled ``'<output name>/<axis index>'``
(split on the *last* ``/``: names may contain ``/``). For each output, ``dim[i].stride`` is
the product of the sizes of its axes from ``i`` on, so the first axis of an output carries
its element count and an output starts where the previous one ends. A 0-d output is sent as
shape ``(1,)``. :func:`msg_to_tensors` reads that layout back.
"""

import array
from typing import Dict
from typing import List
from typing import Union

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from diagnostic_msgs.msg import DiagnosticStatus
from diagnostic_msgs.msg import KeyValue
import numpy as np
from std_msgs.msg import Float32
from std_msgs.msg import Float32MultiArray
from std_msgs.msg import MultiArrayDimension

from accel_ai_ros.errors import ParameterError
from accel_ai_ros.errors import PostprocessError

__all__ = [
    'DiagnosticArray', 'diagnostics_to_msg', 'latency_to_msg', 'msg_to_tensors',
    'tensors_to_msg',
]

_LEVELS = (0, 1, 2, 3)  # OK, WARN, ERROR, STALE


def tensors_to_msg(outputs: Dict[str, np.ndarray]) -> Float32MultiArray:
    """Return ``outputs`` as one Float32MultiArray, in the layout the module docstring gives."""
    msg = Float32MultiArray()
    data = array.array('f')
    dims: List[MultiArrayDimension] = []
    for name, tensor in outputs.items():
        values = np.asarray(tensor)
        if values.dtype.kind not in 'biuf':
            raise PostprocessError(
                f'output {name!r} has dtype {values.dtype}, which is not numeric; only '
                'numeric outputs can be published on ~/output')
        shape = values.shape or (1,)
        stride = int(values.size)
        for axis, size in enumerate(shape):
            dims.append(MultiArrayDimension(label=f'{name}/{axis}', size=int(size),
                                            stride=stride))
            stride = stride // int(size) if size else 0
        data.frombytes(np.ascontiguousarray(values, dtype=np.float32).tobytes())
    msg.layout.dim = dims
    msg.layout.data_offset = 0
    msg.data = data
    return msg


def msg_to_tensors(msg: Float32MultiArray) -> Dict[str, np.ndarray]:
    """Return the float32 tensors of a message made by :func:`tensors_to_msg`, by name."""
    shapes: Dict[str, List[int]] = {}
    for dim in msg.layout.dim:
        name, sep, axis = dim.label.rpartition('/')
        if not sep or not axis.isdigit() or int(axis) != len(shapes.get(name, [])):
            raise PostprocessError(
                f'dimension label {dim.label!r} is not "<output name>/<axis>" in axis order; '
                'only messages from accel_ai_ros ~/output can be read back')
        shapes.setdefault(name, []).append(int(dim.size))
    flat = np.asarray(msg.data, dtype=np.float32)[int(msg.layout.data_offset):]
    tensors: Dict[str, np.ndarray] = {}
    start = 0
    for name, shape in shapes.items():
        count = int(np.prod(shape))
        if start + count > flat.size:
            raise PostprocessError(
                f'the message holds {flat.size} values but its layout needs at least '
                f'{start + count}; it was cut short or built with another layout')
        tensors[name] = flat[start:start + count].reshape(shape)
        start += count
    return tensors


def latency_to_msg(ms: float) -> Float32:
    """Return a latency in milliseconds as a Float32."""
    return Float32(data=float(ms))


def diagnostics_to_msg(stamp: Time, name: str, hardware_id: str, level: Union[int, bytes],
                       message: str, values: Dict[str, str]) -> DiagnosticArray:
    """Return one DiagnosticStatus in a DiagnosticArray stamped ``stamp``.

    ``level`` is 0..3 (OK, WARN, ERROR, STALE), as an int or as the one-byte constants of
    DiagnosticStatus. Values are sent as strings, in the order given.
    """
    if isinstance(level, bytes):
        level_value = level[0] if len(level) == 1 else -1
    else:
        level_value = int(level)
    if level_value not in _LEVELS:
        raise ParameterError(
            f'diagnostic level is {level!r}; use 0 (OK), 1 (WARN), 2 (ERROR) or 3 (STALE)')
    status = DiagnosticStatus(
        level=bytes([level_value]), name=name, message=message, hardware_id=hardware_id,
        values=[KeyValue(key=str(k), value=str(v)) for k, v in values.items()])
    msg = DiagnosticArray(status=[status])
    msg.header.stamp = Time(sec=stamp.sec, nanosec=stamp.nanosec)
    return msg
