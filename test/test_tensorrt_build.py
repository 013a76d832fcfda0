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

"""The decisions around TensorRT's builder, engine cache and runner, on real files.

TensorRT cannot run here (no GPU, and its wheels download from an unreachable host), so these
tests drive the pure functions and the injected seams that surround every TensorRT call; the
names of the TensorRT calls themselves are checked against NVIDIA's stubs in
test_tensorrt_typing.py.
"""

import json
import logging
from pathlib import Path
import threading
from typing import Any
from typing import Dict
from typing import List

from models import make_classifier
from models import make_dynamic_model
import numpy as np
import onnx
import pytest

from accel_ai_ros.backends.onnxruntime.runner import OnnxRuntimeRunner
from accel_ai_ros.backends.tensorrt import cache as cache_module
from accel_ai_ros.backends.tensorrt.build import check_dla_request
from accel_ai_ros.backends.tensorrt.build import merge_timing_cache
from accel_ai_ros.backends.tensorrt.build import normalize_build_options
from accel_ai_ros.backends.tensorrt.build import OnnxPrecision
from accel_ai_ros.backends.tensorrt.build import precision_build_plan
from accel_ai_ros.backends.tensorrt.build import ProgressPrinter
from accel_ai_ros.backends.tensorrt.build import read_timing_cache
from accel_ai_ros.backends.tensorrt.cache import CachedEngineLoader
from accel_ai_ros.backends.tensorrt.cache import EngineCache
from accel_ai_ros.backends.tensorrt.manifest import atomic_write
from accel_ai_ros.backends.tensorrt.manifest import model_sha256
from accel_ai_ros.backends.tensorrt.manifest import PlatformInfo
from accel_ai_ros.backends.tensorrt.manifest import read_manifest
from accel_ai_ros.backends.tensorrt.manifest import sha256_file
from accel_ai_ros.backends.tensorrt.profile_shapes import profile_from_args
from accel_ai_ros.backends.tensorrt.runner import released
from accel_ai_ros.backends.tensorrt.util import format_precision_summary
from accel_ai_ros.backends.tensorrt.util import io_tensor_problem
from accel_ai_ros.backends.tensorrt.util import precision_warning
from accel_ai_ros.backends.tensorrt.util import RecentErrors
from accel_ai_ros.backends.tensorrt.util import summarize_layer_precisions
from accel_ai_ros.engines.selection import loader_for
from accel_ai_ros.errors import EngineError
from accel_ai_ros.errors import ParameterError
from accel_ai_ros.gpu.cuda import CudaError
from accel_ai_ros.params import defaults
from accel_ai_ros.params import start_up_problem
from accel_ai_ros.params import validate
from accel_ai_ros_tools.build import build_options
from accel_ai_ros_tools.build import make_parser

ORIN = PlatformInfo('10.3.0', 'Orin', '8.7')


class RecordingBuild:
    """An injected build function: the 'engine' is the ONNX file's bytes."""

    def __init__(self) -> None:
        self.calls: List[Dict[str, Any]] = []

    def __call__(self, onnx_path: Path, precision: str, timing_cache: Path, progress: Any,
                 options: Dict[str, Any]) -> bytes:
        self.calls.append(dict(options, precision=precision))
        return onnx_path.read_bytes()


def ort_runner(path: Path) -> OnnxRuntimeRunner:
    return OnnxRuntimeRunner(path)


# -- 6: the CLI and the node find the same engine ---------------------------------------------

def test_engine_built_by_the_cli_is_found_by_the_node(tmp_path: Path) -> None:
    onnx_path = make_classifier(tmp_path / 'm.onnx')
    args = make_parser().parse_args([str(onnx_path), '-p', 'fp16'])
    cli_options = build_options(args, profile_from_args(args.min_shape, args.opt_shape,
                                                        args.max_shape))
    build = RecordingBuild()
    cache = EngineCache(tmp_path / 'cache', platform=lambda: ORIN, builder=build)
    built = cache.get_or_build(onnx_path, 'fp16', options=cli_options)
    assert cache.key(onnx_path, 'fp16') == cache.key(onnx_path, 'fp16', cli_options)
    loader = CachedEngineLoader(onnx_path, precision='fp16', cache=cache,
                                runner_factory=ort_runner)
    runner = loader()
    try:
        assert loader.engine_used == built
        assert len(build.calls) == 1, 'the node rebuilt the engine the CLI had built'
    finally:
        runner.deactivate()


def test_build_options_are_normalised() -> None:
    assert normalize_build_options(None) == normalize_build_options({
        'workspace_mb': 0, 'profile_shapes': {}, 'dla_core': -1, 'legacy_flags': False,
        'strongly_typed': 'auto'})
    as_tuples = {'profile_shapes': {'x': ((1, 3, 8, 8), (1, 3, 16, 16), (1, 3, 32, 32))}}
    as_lists = {'profile_shapes': {'x': [[1, 3, 8, 8], [1, 3, 16, 16], [1, 3, 32, 32]]}}
    assert normalize_build_options(as_tuples) == normalize_build_options(as_lists)
    assert normalize_build_options({'workspace_mb': 512}) != normalize_build_options({})
    with pytest.raises(ParameterError, match='unknown build option'):
        normalize_build_options({'workspace': 512})


# -- 4: external-data weights are part of the key ---------------------------------------------

def _with_external_data(tmp_path: Path) -> Path:
    model = onnx.load(str(make_classifier(tmp_path / 'src.onnx')))
    target = tmp_path / 'ext' / 'm.onnx'
    target.parent.mkdir()
    onnx.save_model(model, str(target), save_as_external_data=True,
                    all_tensors_to_one_file=True, location='m.onnx.data', size_threshold=0)
    return target


def test_cache_key_hashes_external_data_files(tmp_path: Path) -> None:
    onnx_path = _with_external_data(tmp_path)
    data = onnx_path.parent / 'm.onnx.data'
    assert data.stat().st_size > 0
    cache = EngineCache(tmp_path / 'cache', platform=lambda: ORIN, builder=RecordingBuild())
    before, graph_sha = cache.key(onnx_path, 'fp32'), sha256_file(onnx_path)
    weights = bytearray(data.read_bytes())
    weights[:8] = np.float32([0.5, -0.5]).tobytes()  # new weights, same size, same graph
    data.write_bytes(bytes(weights))
    assert sha256_file(onnx_path) == graph_sha
    assert cache.key(onnx_path, 'fp32') != before, 'new weights reused a stale engine'
    built = cache.get_or_build(onnx_path, 'fp32')
    assert read_manifest(built).onnx_sha256 == model_sha256(onnx_path)  # type: ignore
    data.unlink()
    with pytest.raises(EngineError, match='m.onnx.data'):
        cache.key(onnx_path, 'fp32')


def test_self_contained_model_hash_is_the_file_hash(tmp_path: Path) -> None:
    onnx_path = make_classifier(tmp_path / 'm.onnx')
    assert model_sha256(onnx_path) == sha256_file(onnx_path)


# -- 2: the configured GPU is the one engines are built and keyed for -------------------------

def test_engine_cache_builds_and_keys_for_gpu_device(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Record the two TensorRT entry points: device_platform and EngineFromOnnx."""
    platforms: List[int] = []
    builds: List[int] = []

    def device_platform(device: int = 0) -> PlatformInfo:
        platforms.append(device)
        return ORIN

    class EngineFromOnnx:
        def __init__(self, onnx_path: Path, precision: str, device: int = 0,
                     **kwargs: Any) -> None:
            builds.append(device)
            self.onnx_path = Path(onnx_path)

        def __call__(self) -> bytes:
            return self.onnx_path.read_bytes()

    monkeypatch.setattr(cache_module, 'device_platform', device_platform)
    monkeypatch.setattr(cache_module, 'EngineFromOnnx', EngineFromOnnx)
    onnx_path = make_classifier(tmp_path / 'm.onnx')
    values = {'onnx_sources.fp32': str(onnx_path), 'engine_cache_dir': str(tmp_path / 'c'),
              'gpu_device': 1, 'backend': 'auto'}
    loader = loader_for(values, 'fp32')
    assert isinstance(loader, CachedEngineLoader)
    loader.runner_factory = ort_runner
    runner = loader()
    runner.deactivate()
    assert builds == [1], 'the engine was built on another device than gpu_device'
    assert platforms and set(platforms) == {1}, 'the cache was keyed for another device'


# -- 5: fp32 engines do not run TF32 --------------------------------------------------------

def test_fp32_clears_tf32() -> None:
    for major in (10, 11):
        assert precision_build_plan('fp32', major).cleared_flags == ('TF32',)
        assert precision_build_plan('fp16', major).cleared_flags == ()
    assert precision_build_plan('fp32', 10, legacy_flags=True).cleared_flags == ('TF32',)
    assert precision_build_plan('int8', 10, legacy_flags=True).cleared_flags == ()


# -- 7: the shared timing cache keeps every build's entries ----------------------------------

class TimingCache:
    """The ITimingCache calls used (combine, serialize), over a JSON set of entries."""

    def __init__(self, data: bytes = b'') -> None:
        self.entries = set(json.loads(data)) if data else set()

    def combine(self, other: 'TimingCache', ignore_mismatch: bool) -> bool:
        assert ignore_mismatch
        self.entries |= other.entries
        return True

    def serialize(self) -> bytes:
        return json.dumps(sorted(self.entries)).encode()


def test_timing_cache_merges_concurrent_builds(tmp_path: Path) -> None:
    path = tmp_path / 'timing.cache'
    assert read_timing_cache(path) == b''
    # Two builds start from the same (empty) file; the second to finish keeps the first's.
    first, second = TimingCache(read_timing_cache(path)), TimingCache(read_timing_cache(path))
    first.entries.add('conv-a')
    second.entries.add('conv-b')
    merge_timing_cache(path, first, TimingCache)
    merge_timing_cache(path, second, TimingCache)
    assert TimingCache(read_timing_cache(path)).entries == {'conv-a', 'conv-b'}
    # Many builds at once (threads hold the file lock as processes do).
    caches = [TimingCache() for _ in range(8)]
    for index, cache in enumerate(caches):
        cache.entries.add(f'layer-{index}')
    threads = [threading.Thread(target=merge_timing_cache, args=(path, c, TimingCache))
               for c in caches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = TimingCache(read_timing_cache(path)).entries
    assert final == {'conv-a', 'conv-b'} | {f'layer-{i}' for i in range(8)}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith('.tmp')]


# -- 8: DLA builds that would run on the GPU are refused -------------------------------------

FP32_MODEL = OnnxPrecision('fp32', 0, 0, ())
FP16_MODEL = OnnxPrecision('fp16', 0, 0, ())
QDQ_MODEL = OnnxPrecision('fp32', 12, 0, ())


def test_dla_refuses_fp32_and_dynamic_profiles() -> None:
    check_dla_request(-1, 'fp32', FP32_MODEL, 10, {})
    with pytest.raises(ParameterError, match='FP16 and INT8'):
        check_dla_request(0, 'fp16', FP32_MODEL, 10, {})  # strong typing: the model decides
    check_dla_request(0, 'fp16', FP16_MODEL, 10, {})
    check_dla_request(0, 'int8', QDQ_MODEL, 11, {})
    with pytest.raises(ParameterError, match='fp32 build'):
        check_dla_request(0, 'fp32', FP32_MODEL, 10, {}, legacy_flags=True)
    check_dla_request(0, 'fp16', FP32_MODEL, 10, {}, legacy_flags=True)
    fixed = {'x': ((1, 3, 64, 64),) * 3}
    check_dla_request(0, 'fp16', FP16_MODEL, 10, fixed)
    dynamic = {'x': ((1, 3, 32, 32), (1, 3, 64, 64), (1, 3, 64, 64))}
    with pytest.raises(ParameterError, match='equal min, opt and max'):
        check_dla_request(0, 'fp16', FP16_MODEL, 10, dynamic)


# -- 9: an exception in the progress callback is caught and reported -------------------------

def test_progress_printer_never_raises_into_tensorrt(caplog: pytest.LogCaptureFixture) -> None:
    def broken_pipe(line: str) -> None:
        raise BrokenPipeError(32, 'Broken pipe')

    printer = ProgressPrinter(broken_pipe, min_interval_s=0.0)
    with caplog.at_level(logging.WARNING, logger='accel_ai_ros'):
        printer.phase_start('Building', None, 3)
        assert printer.step_complete('Building', 0) is True  # the build goes on
    assert isinstance(printer.error, BrokenPipeError)
    assert any('Broken pipe' in r.getMessage() for r in caplog.records)
    printer.raise_if_interrupted()  # not an interruption

    def ctrl_c(line: str) -> None:
        raise KeyboardInterrupt

    interrupted = ProgressPrinter(ctrl_c, min_interval_s=0.0)
    assert interrupted.step_complete('Building', 0) is False  # cancels the build
    with pytest.raises(KeyboardInterrupt):
        interrupted.raise_if_interrupted()


# -- 11: only a refused engine file is rebuilt ------------------------------------------------

class ContextFailure(OnnxRuntimeRunner):
    def _activate(self) -> None:
        raise EngineError('TensorRT could not create an execution context (out of GPU memory?)')


def test_out_of_memory_on_load_is_not_a_rebuild(tmp_path: Path) -> None:
    onnx_path = make_classifier(tmp_path / 'm.onnx')
    engine = tmp_path / 'm.engine'
    atomic_write(engine, onnx_path.read_bytes())
    build = RecordingBuild()
    cache = EngineCache(tmp_path / 'cache', platform=lambda: ORIN, builder=build)
    loader = CachedEngineLoader(onnx_path, engine, cache=cache, runner_factory=ContextFailure)
    with pytest.raises(EngineError, match='execution context'):
        loader()
    assert build.calls == [], 'an out-of-memory context failure started a rebuild'


# -- 3: TensorRT 11 inspector output --------------------------------------------------------

# The layout of TensorRT 11 engine information: per-tensor 'Datatype' and 'Format' (the
# layer-info schema in NVIDIA's TensorRT 11.1 sources, .agents/skills/trt-perf-analysis/
# schemas/analyze-data.schema.json: tensor fields Name, Datatype, Dimensions, Format,
# StrideOrder, Strides) and the 'I/O Tensors' list that replaced 'Bindings' (TensorRT
# documentation, "Migrating IEngineInspector Usage from TensorRT 10.x to 11.x").
TRT11_ENGINE_INFORMATION = json.dumps({
    'Layers': [
        {'Name': '/conv1/Conv + /relu1/Relu', 'LayerType': 'CaskConvolution',
         'Inputs': [{'Name': 'input_0', 'Datatype': 'Half', 'Dimensions': [1, 3, 224, 224],
                     'Format': 'Channel major FP16 format where channel % 8 == 0',
                     'StrideOrder': [0, 1, 2, 3], 'Strides': [150528, 1, 672, 3]}],
         'Outputs': [{'Name': '/relu1/Relu_output_0', 'Datatype': 'Half',
                      'Dimensions': [1, 64, 112, 112],
                      'Format': 'Channel major FP16 format where channel % 8 == 0'}],
         'TacticName': 'sm90_xmma_fprop_implicit_gemm_f16f16_f16f16_f16', 'StreamId': 0},
        {'Name': '/fc/Gemm', 'LayerType': 'gemm',
         'Inputs': [{'Name': '/pool/GlobalAveragePool_output_0', 'Datatype': 'Half',
                     'Dimensions': [1, 64], 'Format': 'Row major linear FP16 format'}],
         'Outputs': [{'Name': 'logits_half', 'Datatype': 'Half', 'Dimensions': [1, 1000],
                      'Format': 'Row major linear FP16 format'}]},
        {'Name': 'cast_to_float', 'LayerType': 'Reformat',
         'Inputs': [{'Name': 'logits_half', 'Datatype': 'Half', 'Dimensions': [1, 1000],
                     'Format': 'Row major linear FP16 format'}],
         'Outputs': [{'Name': 'output_0', 'Datatype': 'Float', 'Dimensions': [1, 1000],
                      'Format': 'Row major linear FP32 format (kLINEAR)'}]},
    ],
    'I/O Tensors': [
        {'Name': 'input_0', 'IOMode': 'Input', 'DataType': 'Float',
         'Dimensions': [1, 3, 224, 224], 'Location': 'Device', 'IsShapeInferenceIO': False,
         'ProfileInfo': [{'MinShape': [1, 3, 224, 224], 'OptShape': [1, 3, 224, 224],
                          'MaxShape': [1, 3, 224, 224],
                          'Format': 'Row major linear FP32 format (kLINEAR)'}]},
        {'Name': 'output_0', 'IOMode': 'Output', 'DataType': 'Float',
         'Dimensions': [1, 1000], 'Location': 'Device', 'IsShapeInferenceIO': False},
    ],
})


def test_trt11_inspector_json_is_read() -> None:
    counts = summarize_layer_precisions(TRT11_ENGINE_INFORMATION)
    assert counts == {'fp16': 3}
    assert format_precision_summary(counts) == '3 layers: fp16 3'
    # The FP16-runs-FP32 warning fires on TensorRT 11 output too.
    fp32_only = TRT11_ENGINE_INFORMATION.replace('"Half"', '"Float"').replace('FP16', 'FP32')
    warning = precision_warning('fp16', summarize_layer_precisions(fp32_only))
    assert warning is not None and 'runs no fp16 layer' in warning
    # Only a Format text (no Datatype) still names the type.
    only_format = json.dumps({'Layers': [{'Name': 'l', 'Inputs': [
        {'Name': 'x', 'Format': 'Row major linear FP32 format (kLINEAR)'}]}]})
    assert summarize_layer_precisions(only_format) == {'fp32': 1}
    # Detailed layers whose types this package cannot read are not blamed on the build.
    odd = json.dumps({'Layers': [{'Name': 'l', 'Inputs': [{'Name': 'x', 'Kind': 'Q'}]}]})
    summary = format_precision_summary(summarize_layer_precisions(odd))
    assert 'unrecognised' in summary and 'DETAILED' not in summary


# -- 10: host tensors and shape tensors are refused clearly ----------------------------------

def test_io_tensor_problems() -> None:
    assert io_tensor_problem('images', 'DEVICE', False) is None
    host = io_tensor_problem('scale', 'HOST', False)
    assert host is not None and 'host memory' in host and 'scale' in host
    assert io_tensor_problem('scale', 'TensorLocation.HOST', False) == host
    shape = io_tensor_problem('dims', 'HOST', True)
    assert shape is not None and 'shape tensor' in shape


# -- 12: the TensorRT error list is shared safely; release failures are reported -------------

def test_recent_errors_lose_nothing_across_threads() -> None:
    recent = RecentErrors(limit=10 ** 6)
    taken: List[str] = []
    done = threading.Event()

    def drain() -> None:
        while not done.is_set():
            taken.extend(recent.take())

    def add(prefix: str) -> None:
        for index in range(5000):
            recent.add(f'{prefix}{index}')

    drainer = threading.Thread(target=drain)
    drainer.start()
    adders = [threading.Thread(target=add, args=(str(n),)) for n in range(4)]
    for thread in adders:
        thread.start()
    for thread in adders:
        thread.join()
    done.set()
    drainer.join()
    taken.extend(recent.take())
    assert len(taken) == 20000 and len(set(taken)) == 20000
    bounded = RecentErrors(limit=3)
    for index in range(5):
        bounded.add(str(index))
    assert bounded.take() == ['2', '3', '4'] and bounded.take() == []


def test_failed_cuda_release_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    def fails() -> None:
        raise CudaError('cuStreamDestroy failed with CUDA_ERROR_ILLEGAL_ADDRESS')

    assert released('memory release', lambda: None) is True
    with caplog.at_level(logging.WARNING, logger='accel_ai_ros'):
        assert released('stream destroy', fails) is False
    assert any('stream destroy' in r.getMessage() and 'CUDA_ERROR_ILLEGAL_ADDRESS'
               in r.getMessage() for r in caplog.records)


# -- 19: dynamic shapes of ONNX sources come from the parameter file -------------------------

def test_engine_profile_parameters_are_validated() -> None:
    good = {'engine_profile.min': 'input:1x3x16x16', 'engine_profile.opt': 'input:1x3x32x32',
            'engine_profile.max': 'input:1x3x64x64'}
    assert validate(good, defaults()) is None
    partial = validate({'engine_profile.min': 'input:1x3x16x16'}, defaults())
    assert partial is not None and 'engine_profile.opt' in partial
    reversed_range = dict(good, **{'engine_profile.max': 'input:1x3x8x8'})
    problem = validate(reversed_range, defaults())
    assert problem is not None and 'min <= opt <= max' in problem
    garbled = validate(dict(good, **{'engine_profile.opt': 'input=1x3x32x32'}), defaults())
    assert garbled is not None and 'NAME:DxDxD' in garbled
    # At start-up the parameter file's values are checked together, before rclpy declares
    # them one by one (each declaration alone is not refused for lacking the other two).
    assert start_up_problem(good) is None
    missing_max = start_up_problem({k: v for k, v in good.items() if k != 'engine_profile.max'})
    assert missing_max is not None and 'engine_profile.max' in missing_max
    assert validate({'engine_profile.min': 'input:1x3x16x16'}, {}) is None


def test_onnx_source_with_dynamic_shapes_is_built_with_the_profile(tmp_path: Path) -> None:
    onnx_path = make_dynamic_model(tmp_path / 'dynamic.onnx')
    values = dict(defaults(), **{
        'onnx_sources.fp32': str(onnx_path), 'engine_cache_dir': str(tmp_path / 'cache'),
        'engine_profile.min': 'input:1x3x16x16', 'engine_profile.opt': 'input:1x3x32x32',
        'engine_profile.max': 'input:1x3x64x64', 'input_width': 32, 'input_height': 32})
    loader = loader_for(values, 'fp32')
    assert isinstance(loader, CachedEngineLoader)
    build = RecordingBuild()
    loader.cache = EngineCache(tmp_path / 'cache', platform=lambda: ORIN, builder=build)
    loader.runner_factory = ort_runner
    runner = loader()
    try:
        assert [call['profile_shapes'] for call in build.calls] == [
            {'input': [[1, 3, 16, 16], [1, 3, 32, 32], [1, 3, 64, 64]]}]
        out = runner.infer({'input': np.zeros((1, 3, 48, 48), np.float32)})
        assert out['logits'].shape == (1, 10)
    finally:
        runner.deactivate()
    # Another profile is another engine.
    other = dict(values, **{'engine_profile.max': 'input:1x3x128x128'})
    other_loader = loader_for(other, 'fp32')
    assert isinstance(other_loader, CachedEngineLoader)
    assert loader.cache.key(onnx_path, 'fp32', other_loader.build_options) != \
        loader.cache.key(onnx_path, 'fp32', loader.build_options)
