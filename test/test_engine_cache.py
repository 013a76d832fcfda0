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

"""Engine cache, manifests, atomic writes, load-or-rebuild decisions, TensorRT pure helpers.

Nothing here needs TensorRT: the platform and the build function are injected. The injected
build writes the ONNX file's own bytes as the "engine", and the loader tests run it with the
real ONNX Runtime runner, so the whole use / rebuild / refuse path runs on real files.
"""

import json
import os
from pathlib import Path
import subprocess
import sys
from typing import Any
from typing import Dict
from typing import List
from typing import Optional

from models import make_classifier
import numpy as np
import pytest

from accel_ai_ros.backends.onnxruntime.runner import OnnxRuntimeRunner
from accel_ai_ros.backends.registry import available_backends
from accel_ai_ros.backends.tensorrt.build import precision_build_plan
from accel_ai_ros.backends.tensorrt.build import ProgressPrinter
from accel_ai_ros.backends.tensorrt.build import SaveEngine
from accel_ai_ros.backends.tensorrt.build import trt_major
from accel_ai_ros.backends.tensorrt.cache import build_all
from accel_ai_ros.backends.tensorrt.cache import cache_key
from accel_ai_ros.backends.tensorrt.cache import CachedEngineLoader
from accel_ai_ros.backends.tensorrt.cache import EngineCache
from accel_ai_ros.backends.tensorrt.cache import plan_after_failure
from accel_ai_ros.backends.tensorrt.cache import plan_engine
from accel_ai_ros.backends.tensorrt.manifest import atomic_write
from accel_ai_ros.backends.tensorrt.manifest import EngineManifest
from accel_ai_ros.backends.tensorrt.manifest import make_manifest
from accel_ai_ros.backends.tensorrt.manifest import manifest_path
from accel_ai_ros.backends.tensorrt.manifest import platform_mismatches
from accel_ai_ros.backends.tensorrt.manifest import PlatformInfo
from accel_ai_ros.backends.tensorrt.manifest import read_manifest
from accel_ai_ros.backends.tensorrt.manifest import sha256_file
from accel_ai_ros.backends.tensorrt.manifest import write_manifest
from accel_ai_ros.backends.tensorrt.runner import TensorRTRunner
from accel_ai_ros.backends.tensorrt.util import deserialize_failure_message
from accel_ai_ros.backends.tensorrt.util import dims_to_shape
from accel_ai_ros.backends.tensorrt.util import EngineDeserializeError
from accel_ai_ros.backends.tensorrt.util import format_precision_summary
from accel_ai_ros.backends.tensorrt.util import numpy_dtype
from accel_ai_ros.backends.tensorrt.util import precision_warning
from accel_ai_ros.backends.tensorrt.util import profile_problem
from accel_ai_ros.backends.tensorrt.util import summarize_layer_precisions
from accel_ai_ros.errors import BackendUnavailableError
from accel_ai_ros.errors import EngineError
from accel_ai_ros.errors import ParameterError

REPO = Path(__file__).resolve().parents[1]
ORIN = PlatformInfo('10.3.0', 'Orin', '8.7')
H100 = PlatformInfo('11.3.0', 'NVIDIA H100 80GB HBM3', '9.0')


class RecordingBuild:
    """An injected build function: the 'engine' is the ONNX file's bytes."""

    def __init__(self) -> None:
        self.calls: List[str] = []

    def __call__(self, onnx: Path, precision: str, timing_cache: Path, progress: Any,
                 options: Dict[str, Any]) -> bytes:
        self.calls.append(precision)
        atomic_write(timing_cache, b'timing-' + precision.encode())
        return onnx.read_bytes()


def ort_runner(path: Path) -> OnnxRuntimeRunner:
    return OnnxRuntimeRunner(path)


class RefusingRunner(OnnxRuntimeRunner):
    """ONNX Runtime standing in for TensorRT, refusing a file it cannot load.

    The refusal is an EngineDeserializeError, the one failure that a rebuild can cure.
    """

    def _activate(self) -> None:
        try:
            super()._activate()
        except EngineError as error:
            raise EngineDeserializeError(str(error)) from None


# -- keys, hashing, manifests ------------------------------------------------------------------

def test_cache_key_changes_with_every_ingredient() -> None:
    base = cache_key('yolo.onnx', 'a' * 64, 'fp16', ORIN, {'workspace_mb': 0})
    assert base == cache_key('yolo.onnx', 'a' * 64, 'fp16', ORIN, {'workspace_mb': 0})
    assert base.startswith('yolo.fp16.sm8.7.trt10.3.0.')
    variants = [
        cache_key('yolo.onnx', 'b' * 64, 'fp16', ORIN, {'workspace_mb': 0}),
        cache_key('yolo.onnx', 'a' * 64, 'fp32', ORIN, {'workspace_mb': 0}),
        cache_key('yolo.onnx', 'a' * 64, 'fp16', PlatformInfo('10.3.1', 'Orin', '8.7'),
                  {'workspace_mb': 0}),
        cache_key('yolo.onnx', 'a' * 64, 'fp16', PlatformInfo('10.3.0', 'Orin NX', '8.7'),
                  {'workspace_mb': 0}),
        cache_key('yolo.onnx', 'a' * 64, 'fp16', PlatformInfo('10.3.0', 'Orin', '8.6'),
                  {'workspace_mb': 0}),
        cache_key('yolo.onnx', 'a' * 64, 'fp16', ORIN, {'workspace_mb': 512}),
    ]
    assert len({base, *variants}) == 7


def test_sha256_and_manifest_round_trip(tmp_path: Path) -> None:
    onnx = make_classifier(tmp_path / 'm.onnx')
    digest = sha256_file(onnx)
    assert len(digest) == 64 and digest == sha256_file(onnx)
    engine = tmp_path / 'm.engine'
    engine.write_bytes(b'engine')
    assert read_manifest(engine) is None
    manifest = make_manifest(ORIN, 'fp16', onnx, {'dla_core': -1})
    assert manifest.onnx_sha256 == digest and manifest.built_at
    assert write_manifest(engine, manifest) == tmp_path / 'm.engine.json'
    assert read_manifest(engine) == manifest
    assert 'TensorRT 10.3.0 on Orin (compute 8.7)' in manifest.describe()
    manifest_path(engine).write_text('{"trt_version": "10"}')
    assert read_manifest(engine) is None  # unreadable: ignored, never fatal
    with pytest.raises(EngineError, match='missing.onnx'):
        sha256_file(tmp_path / 'missing.onnx')


def test_manifest_ignores_unknown_fields() -> None:
    data = json.loads(EngineManifest('10.3.0', 'Orin', '8.7', 'fp32', 'f' * 64).to_json())
    data['added_later'] = 1
    assert EngineManifest.from_json(json.dumps(data)).precision == 'fp32'


def test_platform_mismatches() -> None:
    assert platform_mismatches(ORIN, ORIN) == []
    problems = platform_mismatches(ORIN, H100)
    assert problems[0] == 'TensorRT 10.3.0 (this process has 11.3.0)'
    assert 'compute capability 8.7 (this GPU has 9.0)' in problems
    assert len(problems) == 3


# -- atomic writes -------------------------------------------------------------------------------

def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / 'sub' / 'x.engine'
    atomic_write(target, b'first')
    atomic_write(target, b'second')
    assert target.read_bytes() == b'second'
    assert sorted(p.name for p in target.parent.iterdir()) == ['x.engine']


def test_atomic_write_leaves_no_partial_file_when_the_writer_fails(tmp_path: Path) -> None:
    """A file-size limit makes the write fail midway; the old engine stays whole."""
    target = tmp_path / 'model.engine'
    target.write_bytes(b'old engine')
    code = (
        'import resource, signal, sys\n'
        'from accel_ai_ros.backends.tensorrt.manifest import atomic_write\n'
        'from accel_ai_ros.errors import EngineError\n'
        'signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n'
        'resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))\n'
        'try:\n'
        '    atomic_write(sys.argv[1], b"x" * (1 << 20))\n'
        'except EngineError as error:\n'
        '    print("refused:", error)\n')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]))
    result = subprocess.run([sys.executable, '-c', code, str(target)], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert 'refused: cannot write' in result.stdout
    assert target.read_bytes() == b'old engine'
    assert [p.name for p in tmp_path.iterdir()] == ['model.engine']


def test_save_engine_writes_engine_and_manifest(tmp_path: Path) -> None:
    onnx = make_classifier(tmp_path / 'm.onnx')
    manifest = make_manifest(ORIN, 'fp32', onnx)
    path = SaveEngine(lambda: b'serialized', tmp_path / 'out' / 'm.engine', manifest)()
    assert path.read_bytes() == b'serialized'
    assert read_manifest(path) == manifest
    with pytest.raises(EngineError, match='empty engine'):
        SaveEngine(b'', tmp_path / 'empty.engine')()
    assert not (tmp_path / 'empty.engine').exists()


# -- the engine cache ----------------------------------------------------------------------------

def test_get_or_build_builds_once_and_persists_timing_cache(tmp_path: Path) -> None:
    onnx = make_classifier(tmp_path / 'm.onnx')
    build = RecordingBuild()
    lines: List[str] = []
    cache = EngineCache(tmp_path / 'cache', platform=lambda: ORIN, builder=build)
    first = cache.get_or_build(onnx, 'fp16', progress=lines.append)
    assert first == cache.path_for(cache.key(onnx, 'fp16'))
    assert first.read_bytes() == onnx.read_bytes()
    assert read_manifest(first).onnx_sha256 == sha256_file(onnx)  # type: ignore[union-attr]
    assert any('building fp16 engine' in line for line in lines)
    assert cache.get_or_build(onnx, 'fp16') == first and build.calls == ['fp16']
    assert cache.lookup(cache.key(onnx, 'fp16')) == first
    cache.get_or_build(onnx, 'fp16', force=True)
    assert build.calls == ['fp16', 'fp16']
    assert cache.load_timing_cache() == b'timing-fp16'
    cache.save_timing_cache(b'newer')
    assert cache.load_timing_cache() == b'newer'
    assert not [p for p in (tmp_path / 'cache').iterdir() if p.name.endswith('.tmp')]
    # Another ONNX file (new weights) is another key.
    other = make_classifier(tmp_path / 'm2.onnx', seed=1)
    assert cache.key(other, 'fp16') != cache.key(onnx, 'fp16')


def test_lookup_ignores_engines_of_another_platform(tmp_path: Path) -> None:
    onnx = make_classifier(tmp_path / 'm.onnx')
    orin = EngineCache(tmp_path / 'cache', platform=lambda: ORIN, builder=RecordingBuild())
    path = orin.get_or_build(onnx, 'fp32')
    key = orin.key(onnx, 'fp32')
    other = EngineCache(tmp_path / 'cache', platform=lambda: H100, builder=RecordingBuild())
    assert other.key(onnx, 'fp32') != key
    assert other.lookup(key) is None  # same file name, manifest says another platform
    manifest_path(path).unlink()
    assert orin.lookup(key) is None  # no manifest: not trusted
    with pytest.raises(EngineError, match='does not exist'):
        orin.get_or_build(tmp_path / 'absent.onnx', 'fp32')
    with pytest.raises(ParameterError, match='fp32, fp16, int8'):
        orin.key(onnx, 'fp64')


def test_build_all_builds_every_configured_precision(tmp_path: Path) -> None:
    onnx = make_classifier(tmp_path / 'm.onnx')
    build = RecordingBuild()
    cache = EngineCache(tmp_path / 'cache', platform=lambda: ORIN, builder=build)
    built = build_all({'fp32': onnx, 'fp16': onnx, 'int8': ''}, cache=cache)
    assert sorted(built) == ['fp16', 'fp32'] and sorted(build.calls) == ['fp16', 'fp32']


# -- use / rebuild / refuse ----------------------------------------------------------------------

def test_plan_engine_decisions(tmp_path: Path) -> None:
    engine = tmp_path / 'm.engine'
    engine.write_bytes(b'engine')
    onnx = tmp_path / 'm.onnx'
    built_here = EngineManifest(ORIN.trt_version, ORIN.gpu_name, ORIN.compute_capability,
                                'fp32', 'f' * 64)
    assert plan_engine(engine, onnx, False).action == 'use'
    assert plan_engine(engine, '', False).action == 'use'
    assert plan_engine(engine, onnx, False, built_here, ORIN).action == 'use'
    mismatch = plan_engine(engine, onnx, False, built_here, H100)
    assert mismatch.action == 'build' and 'TensorRT 10.3.0' in mismatch.reason
    # Without an ONNX source the engine is still tried (it may be version-compatible).
    assert plan_engine(engine, '', False, built_here, H100).action == 'use'
    missing = tmp_path / 'absent.engine'
    assert plan_engine(missing, onnx, False).action == 'build'
    refused = plan_engine(missing, '', False)
    assert refused.action == 'refuse' and 'build_engine' in refused.reason
    assert plan_engine('', onnx, False).action == 'build'
    assert plan_engine('', '', False).action == 'refuse'
    assert plan_engine(engine, onnx, True).action == 'build'
    assert plan_engine(engine, '', True).action == 'refuse'
    assert plan_after_failure(onnx, 'bad').action == 'build'
    assert plan_after_failure('', 'bad').reason == 'bad'


def test_loader_uses_configured_engine(tmp_path: Path) -> None:
    onnx = make_classifier(tmp_path / 'm.onnx')
    engine = tmp_path / 'm.engine'
    engine.write_bytes(onnx.read_bytes())
    build = RecordingBuild()
    cache = EngineCache(tmp_path / 'cache', platform=lambda: ORIN, builder=build)
    loader = CachedEngineLoader(onnx, engine, cache=cache, runner_factory=ort_runner)
    runner = loader()
    try:
        assert runner.is_active and loader.engine_used == engine and build.calls == []
    finally:
        runner.deactivate()


def test_loader_rebuilds_a_broken_engine_from_onnx(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    onnx = make_classifier(tmp_path / 'm.onnx')
    engine = tmp_path / 'm.engine'
    engine.write_bytes(np.random.default_rng(0).bytes(4096))
    build = RecordingBuild()
    cache = EngineCache(tmp_path / 'cache', platform=lambda: ORIN, builder=build)
    loader = CachedEngineLoader(onnx, engine, 'fp16', cache=cache, runner_factory=RefusingRunner)
    runner = loader()
    try:
        out = runner.infer({'input': np.zeros((1, 3, 32, 32), np.float32)})
        assert out['logits'].shape == (1, 10)
        assert loader.engine_used == cache.path_for(cache.key(onnx, 'fp16'))
        assert build.calls == ['fp16']
        assert any('rebuilding from' in r.getMessage() for r in caplog.records)
    finally:
        runner.deactivate()
    # The same broken engine without an ONNX source: the load error itself.
    bare = CachedEngineLoader('', engine, cache=cache, runner_factory=RefusingRunner)
    with pytest.raises(EngineError, match='m.engine'):
        bare()


def test_loader_rebuilds_on_platform_mismatch_and_refuses_nothing(tmp_path: Path) -> None:
    onnx = make_classifier(tmp_path / 'm.onnx')
    engine = tmp_path / 'm.engine'
    engine.write_bytes(onnx.read_bytes())
    write_manifest(engine, make_manifest(H100, 'fp32', onnx))
    build = RecordingBuild()
    cache = EngineCache(tmp_path / 'cache', platform=lambda: ORIN, builder=build)
    runner = CachedEngineLoader(onnx, engine, cache=cache, runner_factory=ort_runner)()
    runner.deactivate()
    assert build.calls == ['fp32']
    with pytest.raises(EngineError, match='no engine and no ONNX source'):
        CachedEngineLoader(cache=cache, runner_factory=ort_runner)()
    with pytest.raises(EngineError, match='does not exist'):
        CachedEngineLoader('', tmp_path / 'absent.engine', cache=cache,
                           runner_factory=ort_runner)()


# -- TensorRT pure helpers ---------------------------------------------------------------------

TRT10_INSPECTOR_JSON = json.dumps({'Layers': [
    {'Name': 'Reformatting CopyNode for Input Tensor 0 to conv', 'LayerType': 'Reformat',
     'Inputs': [{'Name': 'input', 'Location': 'Device', 'Dimensions': [1, 3, 32, 32],
                 'Format/Datatype': 'Row major linear FP32 format'}],
     'Outputs': [{'Name': 'r', 'Location': 'Device', 'Dimensions': [1, 3, 32, 32],
                  'Format/Datatype': 'Channel major FP16 format where channel % 4 == 0'}]},
    {'Name': 'conv + relu', 'LayerType': 'CaskConvolution',
     'Inputs': [{'Name': 'r', 'Format/Datatype':
                 'Channel major FP16 format where channel % 4 == 0'}],
     'Outputs': [{'Name': 'c', 'Format/Datatype': 'Row major linear FP16 format'}]},
    {'Name': 'pool', 'LayerType': 'CaskPooling',
     'Inputs': [{'Name': 'c', 'Format/Datatype': 'Half'}], 'Outputs': []},
    {'Name': 'q conv', 'LayerType': 'CaskConvolution',
     'Inputs': [{'Name': 'q', 'Format/Datatype':
                 'Thirty-two wide channel vectorized row major Int8 format'}],
     'Outputs': [{'Name': 'logits', 'Format/Datatype': 'Float'}]},
], 'Bindings': ['input', 'logits']})

TRT11_INSPECTOR_JSON = json.dumps({'Layers': [
    {'Name': 'gemm', 'Inputs': [{'Name': 'x', 'DataType': 'Float',
                                 'Format': 'Row major linear FP32 format (kLINEAR)'}]},
    {'Name': 'cast', 'Inputs': [{'Name': 'y', 'DataType': 'BFloat16'}]},
], 'I/O Tensors': [{'Name': 'x', 'IOMode': 'Input', 'DataType': 'Float'}]})


def test_layer_precision_summary() -> None:
    counts = summarize_layer_precisions(TRT10_INSPECTOR_JSON)
    assert counts == {'fp16': 2, 'fp32': 1, 'int8': 1}
    assert format_precision_summary(counts) == '4 layers: fp16 2, fp32 1, int8 1'
    assert summarize_layer_precisions(TRT11_INSPECTOR_JSON) == {'bf16': 1, 'fp32': 1}
    names_only = summarize_layer_precisions(json.dumps({'Layers': ['conv', 'relu']}))
    assert names_only == {'unknown': 2}
    assert 'ProfilingVerbosity.DETAILED' in format_precision_summary(names_only)
    with pytest.raises(ValueError):
        summarize_layer_precisions('{"Bindings": []}')
    warning = precision_warning('fp16', {'fp32': 12})
    assert warning is not None and 'make_variants' in warning
    assert precision_warning('fp16', counts) is None
    assert precision_warning('fp32', {'fp32': 12}) is None
    assert precision_warning('fp16', names_only) is None


def test_precision_build_plan_per_trt_major() -> None:
    assert trt_major('10.3.0.30') == 10 and trt_major('11.3.0') == 11
    for precision in ('fp32', 'fp16', 'int8'):
        plan = precision_build_plan(precision, 11)
        assert plan.strongly_typed and plan.flags == ()
        assert precision_build_plan(precision, 10).strongly_typed
    assert precision_build_plan('fp16', 10, legacy_flags=True).flags == ('FP16',)
    legacy_int8 = precision_build_plan('int8', 10, legacy_flags=True)
    assert legacy_int8.flags == ('FP16', 'INT8') and not legacy_int8.strongly_typed
    assert precision_build_plan('fp32', 10, strongly_typed=False).strongly_typed is False
    with pytest.raises(ParameterError, match='removed in TensorRT 11'):
        precision_build_plan('fp16', 11, legacy_flags=True)
    with pytest.raises(ParameterError, match='TensorRT 8.x is too old'):
        precision_build_plan('fp32', 8)
    with pytest.raises(ParameterError, match='fp32, fp16, int8'):
        precision_build_plan('tf32', 10)
    with pytest.raises(ParameterError, match='weakly typed'):
        precision_build_plan('fp16', 10, legacy_flags=True, strongly_typed=True)


def test_runner_helpers() -> None:
    assert dims_to_shape([1, -1, 640, -1]) == (1, None, 640, None)
    assert numpy_dtype('HALF') == np.float16 and numpy_dtype('FLOAT') == np.float32
    with pytest.raises(EngineError, match='BF16'):
        numpy_dtype('BF16', 'x')
    assert profile_problem('input', (1, 3, 640, 640), (1, 3, 320, 320),
                           (4, 3, 1280, 1280)) is None
    problem = profile_problem('input', (8, 3, 640, 640), (1, 3, 320, 320), (4, 3, 1280, 1280))
    assert problem is not None
    assert 'min (1, 3, 320, 320), max (4, 3, 1280, 1280)' in problem
    lines: List[str] = []
    printer = ProgressPrinter(lines.append, min_interval_s=0.0)
    printer.phase_start('Building engine', None, 3)
    printer.phase_start('Tactic timing', 'Building engine', 2)
    assert printer.step_complete('Tactic timing', 0)
    printer.phase_finish('Tactic timing')
    assert lines == ['building: Building engine (3 steps)', 'building: Tactic timing 1/2']


@pytest.mark.parametrize('manifest', [None, EngineManifest('10.3.0', 'Orin', '8.7', 'fp16',
                                                           'f' * 64)])
def test_deserialize_failure_message(tmp_path: Path,
                                     manifest: Optional[EngineManifest]) -> None:
    text = deserialize_failure_message(tmp_path / 'm.engine', 1234, H100, manifest,
                                       ['Serialization assertion failed\nversion'], False)
    assert '\n' not in text and 'm.engine' in text and 're-copy' in text
    assert 'TensorRT 11.3.0 on NVIDIA H100 80GB HBM3 (compute 9.0)' in text
    assert 'build_engine' in text and 'ONNX source' in text
    if manifest is None:
        assert 'no manifest' in text
    else:
        assert 'TensorRT 10.3.0 (this process has 11.3.0)' in text
    plugin = deserialize_failure_message('m.engine', 1, None, None,
                                         ['engine contains host code'], False)
    assert 'allow_plugins' in plugin


def test_tensorrt_runner_without_tensorrt(tmp_path: Path) -> None:
    missing = TensorRTRunner(tmp_path / 'absent.engine')
    with pytest.raises(EngineError, match='does not exist'):
        missing.activate()
    if available_backends()['tensorrt'] is None:
        pytest.skip('TensorRT is installed here')
    engine = tmp_path / 'm.engine'
    engine.write_bytes(b'engine')
    runner = TensorRTRunner(engine)
    with pytest.raises(BackendUnavailableError, match='tensorrt'):
        runner.activate()
    assert not runner.is_active
