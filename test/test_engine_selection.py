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

"""Which loader the node uses for a precision, from its parameter values (no rclpy)."""

from pathlib import Path

from models import make_classifier
import pytest

from accel_ai_ros.backends.tensorrt.cache import CachedEngineLoader
from accel_ai_ros.engines.loaders import RunnerFromFile
from accel_ai_ros.engines.selection import backend_for
from accel_ai_ros.engines.selection import loader_for
from accel_ai_ros.errors import ParameterError
from accel_ai_ros.params import check_precision
from accel_ai_ros.params import configured_precisions
from accel_ai_ros.params import defaults


def values(tmp_path: Path, **extra: object) -> dict:
    """Return parameter values with every default and ``extra`` on top."""
    result = defaults()
    result['model_dir'] = str(tmp_path)
    result.update(extra)
    return result


def test_onnx_engine_loads_with_onnx_runtime_and_its_options(tmp_path):
    make_classifier(tmp_path / 'm.onnx')
    v = values(tmp_path, **{'engines.fp32': 'm.onnx', 'intra_op_threads': 2})
    loader = loader_for(v, 'fp32')
    assert isinstance(loader, RunnerFromFile)
    assert loader.resolved_backend() == 'onnxruntime'
    assert loader.options == {'providers': ('CPUExecutionProvider',), 'intra_op_threads': 2}
    assert loader.path == tmp_path / 'm.onnx'
    runner = loader()
    try:
        assert runner.is_active and runner.inputs()[0].name == 'input'
    finally:
        runner.deactivate()


def test_tensorrt_engine_with_onnx_source_uses_the_engine_cache(tmp_path):
    v = values(tmp_path, **{'engines.fp16': 'm_fp16.plan', 'onnx_sources.fp16': 'm_fp16.onnx',
                            'engine_cache_dir': str(tmp_path / 'cache'),
                            'force_engine_update': True, 'gpu_device': 1})
    assert backend_for(v, 'fp16') == 'tensorrt'
    loader = loader_for(v, 'fp16')
    assert isinstance(loader, CachedEngineLoader)
    assert loader.onnx_path == str(tmp_path / 'm_fp16.onnx')
    assert loader.engine_path == str(tmp_path / 'm_fp16.plan')
    assert loader.force_rebuild and loader.device == 1 and loader.precision == 'fp16'


def test_onnx_source_alone_selects_tensorrt_and_counts_as_configured(tmp_path):
    make_classifier(tmp_path / 'src.onnx')
    v = values(tmp_path, **{'onnx_sources.int8': 'src.onnx'})
    assert configured_precisions(v) == ['int8']
    assert backend_for(v, 'int8') == 'tensorrt'
    assert check_precision('int8', v) is None, 'the engine is built from the source'
    v['onnx_sources.int8'] = 'missing.onnx'
    assert 'missing.onnx' in (check_precision('int8', v) or '')


def test_plain_tensorrt_engine_without_source_loads_directly(tmp_path):
    v = values(tmp_path, **{'engines.fp32': 'm.engine', 'allow_engine_plugins': True})
    loader = loader_for(v, 'fp32')
    assert isinstance(loader, RunnerFromFile)
    assert loader.resolved_backend() == 'tensorrt'
    assert loader.options == {'device': 0, 'allow_plugins': True}


def test_unconfigured_precision_is_refused_with_the_parameter_to_set(tmp_path):
    with pytest.raises(ParameterError, match='engines.fp16'):
        backend_for(values(tmp_path), 'fp16')


@pytest.mark.parametrize('precision,dtype', [('fp16', 'fp16'), ('fp32', 'fp32'),
                                             ('int8', 'fp32')])
def test_torch_model_gets_the_precision_and_the_gpu_device(tmp_path, precision, dtype):
    v = values(tmp_path, **{f'engines.{precision}': 'm.pt2', 'gpu_device': 1})
    loader = loader_for(v, precision)
    assert isinstance(loader, RunnerFromFile)
    assert loader.resolved_backend() == 'torch'
    assert loader.options == {'precision': dtype, 'gpu_device': 1}
