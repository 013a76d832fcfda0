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

"""The optimization profile of TensorRT engines with dynamic inputs: parsing and checks.

Shapes are written as trtexec writes them, ``name:1x3x640x640``, several inputs separated by
commas. The command line (``build_engine --min-shape``) and the node's parameters
(``engine_profile.min/opt/max``) read them here. Standard library only: the parameter checks
import this module before anything heavy is loaded.
"""

from typing import Any
from typing import Dict
from typing import Mapping
from typing import Sequence
from typing import Tuple

from accel_ai_ros.errors import ParameterError

Shape = Tuple[int, ...]
#: input name -> (min, opt, max) shapes of the optimization profile.
ProfileShapes = Mapping[str, Tuple[Shape, Shape, Shape]]

#: The node parameters that give the profile of engines built from onnx_sources.
PROFILE_PARAMETERS = ('engine_profile.min', 'engine_profile.opt', 'engine_profile.max')


def check_profile_shapes(profile: ProfileShapes) -> Dict[str, Tuple[Shape, Shape, Shape]]:
    """Validate min <= opt <= max, same rank, positive dims; return them as int tuples."""
    checked = {}
    for name, shapes in profile.items():
        if len(shapes) != 3:
            raise ParameterError(f'profile for input {name!r} needs min, opt and max shapes')
        low, opt, high = (tuple(int(d) for d in s) for s in shapes)
        if not len(low) == len(opt) == len(high):
            raise ParameterError(f'profile shapes for input {name!r} differ in rank: min '
                                 f'{low}, opt {opt}, max {high}')
        if any(d < 1 for d in low) or not all(a <= b <= c for a, b, c in zip(low, opt, high)):
            raise ParameterError(f'profile for input {name!r} must satisfy 1 <= min <= opt <= '
                                 f'max in every dimension, got min {low}, opt {opt}, max {high}')
        checked[str(name)] = (low, opt, high)
    return checked


def parse_shape(text: str) -> Tuple[str, Shape]:
    """Parse 'name:1x3x640x640' into ('name', (1, 3, 640, 640))."""
    name, sep, dims = text.rpartition(':')
    try:
        shape = tuple(int(d) for d in dims.lower().split('x'))
    except ValueError:
        shape = ()
    if not sep or not name or not shape or any(d < 1 for d in shape):
        raise ParameterError(f'shape {text!r} is not NAME:DxDxD (e.g. input:1x3x640x640)')
    return name, shape


def profile_from_args(
    min_shapes: Sequence[str], opt_shapes: Sequence[str], max_shapes: Sequence[str],
    labels: Sequence[str] = ('--min-shape', '--opt-shape', '--max-shape'),
) -> Dict[str, Tuple[Shape, Shape, Shape]]:
    """Combine --min/--opt/--max-shape values into a checked profile per input.

    ``labels`` name the three sources in the error for an input that lacks one.
    """
    groups = (min_shapes, opt_shapes, max_shapes)
    parsed = [dict(parse_shape(s) for s in group) for group in groups]
    names = set().union(*parsed)
    profile = {}
    for name in sorted(names):
        missing = [flag for flag, group in zip(labels, parsed) if name not in group]
        if missing:
            raise ParameterError(f'input {name!r} needs {", ".join(missing)} as well')
        profile[name] = (parsed[0][name], parsed[1][name], parsed[2][name])
    return check_profile_shapes(profile)


def profile_from_parameters(values: Mapping[str, Any]) -> Dict[str, Tuple[Shape, Shape, Shape]]:
    """Return the checked profile the node's ``engine_profile.*`` parameters give ({} if none).

    Each parameter holds ``name:DxDxD`` entries separated by commas; an input needs all
    three. Raises ParameterError naming the parameter and the fix.
    """
    texts = [str(values.get(name, '') or '') for name in PROFILE_PARAMETERS]
    groups = [[item.strip() for item in text.split(',') if item.strip()] for text in texts]
    if not any(groups):
        return {}
    try:
        return profile_from_args(groups[0], groups[1], groups[2], labels=PROFILE_PARAMETERS)
    except ParameterError as error:
        raise ParameterError(
            f'{error}; write engine_profile.min, engine_profile.opt and engine_profile.max '
            f"each as 'input:1x3x320x320' (several inputs separated by commas)") from None
