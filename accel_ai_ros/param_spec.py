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

"""One parameter's declaration (:class:`ParamSpec`) and the check of a value against it.

Free of rclpy and of any other module of this package, so that every room that owns
parameters (:mod:`accel_ai_ros.params`, each task in :mod:`accel_ai_ros.tasks`) declares them
with the same type; :mod:`accel_ai_ros.params` gathers them into the one table.
"""

from dataclasses import dataclass
import math
from typing import Any
from typing import Optional
from typing import Tuple


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: name, default, meaning and the values it accepts."""

    name: str
    default: Any
    description: str
    read_only: bool = False
    choices: Tuple[str, ...] = ()
    min_value: Optional[float] = None
    max_value: Optional[float] = None
    #: Length a numeric array must have (0: any length).
    length: Tuple[int, ...] = ()

    @property
    def type_name(self) -> str:
        """Return 'bool', 'int', 'float', 'str', 'float[]' or 'str[]'."""
        value = self.default
        if isinstance(value, bool):
            return 'bool'
        if isinstance(value, int):
            return 'int'
        if isinstance(value, float):
            return 'float'
        if isinstance(value, str):
            return 'str'
        if isinstance(value, (list, tuple)) and value and isinstance(value[0], str):
            return 'str[]'
        return 'float[]'

    def coerce(self, value: Any) -> Any:
        """Return an accepted ``value`` as this parameter's Python type (lists as tuples)."""
        kind = self.type_name
        if kind == 'float[]':
            return tuple(float(v) for v in value)
        if kind == 'str[]':
            return tuple(str(v) for v in value)
        return {'bool': bool, 'int': int, 'float': float, 'str': str}[kind](value)


def check_value(spec: ParamSpec, value: Any) -> Optional[str]:
    """Return why ``value`` is not acceptable for ``spec`` on its own, or None."""
    kind = spec.type_name
    if kind == 'float' and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind == 'float[]':
        if not isinstance(value, (list, tuple)) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            return f'{spec.name} must be a list of numbers, got {value!r}'
        if spec.length and len(value) not in spec.length:
            return f'{spec.name} needs {" or ".join(map(str, spec.length))} values, got ' \
                f'{len(value)}'
        if any(not math.isfinite(float(v)) for v in value):
            return f'{spec.name} must be finite, got {list(value)}'
        if spec.name == 'std' and any(float(v) == 0.0 for v in value):
            return 'std must not contain 0 (it divides the pixel values)'
        return None
    if kind == 'str[]':
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            return f'{spec.name} must be a list of strings, got {value!r}'
        return None
    expected: Any = {'bool': bool, 'int': int, 'float': float, 'str': str}[kind]
    if not isinstance(value, expected) or (kind == 'int' and isinstance(value, bool)):
        return f'{spec.name} must be of type {kind}, got {value!r}'
    if spec.choices and value not in spec.choices:
        return f'{spec.name} must be one of {", ".join(spec.choices)}; got {value!r}'
    if kind in ('int', 'float'):
        number = float(value)
        if not math.isfinite(number):
            return f'{spec.name} must be finite, got {value!r}'
        if spec.min_value is not None and number < spec.min_value:
            return f'{spec.name} must be >= {spec.min_value}, got {value!r}'
        if spec.max_value is not None and number > spec.max_value:
            return f'{spec.name} must be <= {spec.max_value}, got {value!r}'
    return None
