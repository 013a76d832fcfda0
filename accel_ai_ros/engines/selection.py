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

"""Which loader makes the runner of one precision, from the node's parameter values.

Pure: it reads the values the node holds and returns a loader callable, so the node only
calls it. ``engines.<precision>`` names a model or engine file; ``onnx_sources.<precision>``
names the ONNX file a TensorRT engine is built from when the engine is missing, stale (other
TensorRT version or GPU) or ``force_engine_update`` is set — the behaviour Isaac ROS users know
from ``model_file_path`` / ``engine_file_path`` / ``force_engine_update``.
"""

from typing import Any
from typing import Callable
from typing import Mapping
from typing import Optional

from accel_ai_ros.backends.base import Runner
from accel_ai_ros.backends.registry import runner_options
from accel_ai_ros.backends.registry import url_scheme
from accel_ai_ros.backends.tensorrt.cache import CachedEngineLoader
from accel_ai_ros.backends.tensorrt.profile_shapes import profile_from_parameters
from accel_ai_ros.engines.loaders import backend_for_path
from accel_ai_ros.engines.loaders import RunnerFromFile
from accel_ai_ros.errors import ParameterError
from accel_ai_ros.params import resolve_path

Loader = Callable[[], Runner]

#: Precisions the torch backend casts a model to (its runner's PRECISIONS, without importing
#: the runner module here); any other (int8: a quantised export) runs the file as it is.
TORCH_PRECISIONS = ('fp32', 'fp16', 'bf16')


def _path(values: Mapping[str, Any], key: str) -> str:
    raw = str(values.get(key, '') or '')
    if url_scheme(raw):
        return raw  # a model on a server (triton://...), not a file
    return str(resolve_path(raw, str(values.get('model_dir', '') or ''))) if raw else ''


def backend_for(values: Mapping[str, Any], precision: str) -> str:
    """Return the backend that runs ``precision``: the parameter, else the file suffix."""
    backend = str(values.get('backend', 'auto'))
    if backend != 'auto':
        return backend
    engine = _path(values, f'engines.{precision}')
    if engine:
        return backend_for_path(engine)
    if _path(values, f'onnx_sources.{precision}'):
        return 'tensorrt'
    raise ParameterError(f'precision {precision!r} has neither engines.{precision} nor '
                         f'onnx_sources.{precision}; set one in the parameter file')


def loader_for(values: Mapping[str, Any], precision: str) -> Loader:
    """Return the callable that loads (or builds, then loads) the runner of ``precision``."""
    backend = backend_for(values, precision)
    engine = _path(values, f'engines.{precision}')
    onnx_source = _path(values, f'onnx_sources.{precision}')
    if backend == 'tensorrt' and (onnx_source or engine.endswith('.onnx')):
        cache_dir: Optional[str] = str(values.get('engine_cache_dir', '') or '') or None
        return CachedEngineLoader(
            onnx_path=onnx_source or engine,
            engine_path='' if engine.endswith('.onnx') else engine,
            precision=precision, cache_dir=cache_dir,
            force_rebuild=bool(values.get('force_engine_update', False)),
            allow_plugins=bool(values.get('allow_engine_plugins', False)),
            device=int(values.get('gpu_device', 0)),
            build_options={'profile_shapes': profile_from_parameters(values)})
    loader = RunnerFromFile(engine, backend=backend, **runner_options(backend, values))
    if backend == 'torch':
        # One file serves every precision: the runner casts it to the one being loaded (not
        # values['precision']: a prebuild or a swap loads another).
        loader.options['precision'] = precision if precision in TORCH_PRECISIONS else 'fp32'
    return loader
