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

"""INT8 targets: CPU flags, the target a variant records, and the runner's warning."""

import logging
from pathlib import Path

import cv2
from models import make_classifier
import numpy as np
import pytest
from skimage import data

from accel_ai_ros.backends.onnxruntime.int8_target import cpu_int8_support
from accel_ai_ros.backends.onnxruntime.int8_target import CpuInt8Support
from accel_ai_ros.backends.onnxruntime.int8_target import support_from
from accel_ai_ros.backends.onnxruntime.int8_target import target_warning
from accel_ai_ros.backends.onnxruntime.runner import OnnxRuntimeRunner
from accel_ai_ros_tools.variants.cli import main
from accel_ai_ros_tools.variants.manifest import read_manifest

HASWELL = 'processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n'
ZEN4 = 'processor\t: 0\nflags\t\t: fpu sse2 avx avx2 avx512f avx512bw avx512_vnni\n'
ALDER_LAKE = 'processor\t: 0\nflags\t\t: fpu avx avx2 avx_vnni\n'
GRAVITON = 'processor\t: 0\nFeatures\t: fp asimd asimddp i8mm\n'


def test_cpu_flags_decide_reduce_range() -> None:
    """x86 without VNNI needs 7-bit weights; VNNI (either kind) and aarch64 do not."""
    assert support_from('x86_64', HASWELL, None).needs_reduce_range
    assert not support_from('x86_64', ZEN4, None).needs_reduce_range
    assert not support_from('x86_64', ALDER_LAKE, None).needs_reduce_range
    assert not support_from('aarch64', GRAVITON, None).needs_reduce_range
    assert 'asimddp' in support_from('aarch64', GRAVITON, None).describe()
    here = cpu_int8_support()
    print(f'this CPU: {here.describe()}, reduce_range {here.needs_reduce_range}')


def test_cpuid_wins_when_cpuinfo_describes_another_cpu() -> None:
    """Under QEMU's user mode /proc/cpuinfo is the host's; CPUID is the emulated CPU's."""
    haswell_cpuid = {'AVX2': True, 'AVX512F': False, 'AVX512BW': False, 'AVX512VNNI': False}
    emulated = support_from('x86_64', ZEN4, haswell_cpuid)
    assert emulated.needs_reduce_range and 'CPUID' in emulated.source
    # avx_vnni cannot be confirmed by CPUID here: counted absent, the safe side
    assert support_from('x86_64', ALDER_LAKE + 'flags : avx512f\n', haswell_cpuid)
    agreeing = {'AVX2': True, 'AVX512F': True, 'AVX512BW': True, 'AVX512VNNI': True}
    assert support_from('x86_64', ZEN4, agreeing).source == '/proc/cpuinfo'


def test_target_warnings() -> None:
    """Each off-target combination names the fix; on-target ones are silent."""
    no_vnni = CpuInt8Support('x86_64', frozenset({'avx2'}), '/proc/cpuinfo')
    vnni = CpuInt8Support('x86_64', frozenset({'avx2', 'avx512_vnni'}), '/proc/cpuinfo')
    cpu = ['CPUExecutionProvider']
    trt = {'accel_ai_ros.int8_target': 'tensorrt', 'accel_ai_ros.int8_reduce_range': 'false'}
    full = {'accel_ai_ros.int8_target': 'cpu', 'accel_ai_ros.int8_reduce_range': 'false'}
    reduced = dict(full, **{'accel_ai_ros.int8_reduce_range': 'true'})
    assert '--int8-target cpu' in str(target_warning(trt, cpu, vnni))
    assert 'saturation' in str(target_warning(trt, cpu, no_vnni))
    assert target_warning(trt, ['TensorrtExecutionProvider', *cpu], no_vnni) is None
    assert '--int8-target tensorrt' in str(target_warning(full, ['TensorrtExecutionProvider'],
                                                          vnni))
    assert target_warning(full, cpu, vnni) is None
    assert '--int8-reduce-range on' in str(target_warning(full, cpu, no_vnni))
    assert target_warning(reduced, cpu, no_vnni) is None
    assert target_warning({}, cpu, no_vnni) is None  # FP32, FP16, other tools' models


@pytest.mark.parametrize('target', ['tensorrt', 'cpu'])
def test_cli_target_reaches_manifest_and_runner(tmp_path: Path, target: str,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """--int8-target is recorded in the manifest and the model; the runner reads it."""
    photos = tmp_path / 'photos'
    photos.mkdir()
    for name in ('astronaut', 'coffee', 'chelsea'):
        cv2.imwrite(str(photos / f'{name}.png'), getattr(data, name)()[..., ::-1])
    out = tmp_path / 'out'
    assert main([str(make_classifier(tmp_path / 'c.onnx')), '--output-dir', str(out),
                 '--precisions', 'int8', '--calibration-images', str(photos),
                 '--calibration-count', '3', '--calibration-min', '1',
                 '--int8-target', target]) == 0
    entry = next(v for v in read_manifest(out)['variants'] if v['name'] == 'int8')
    assert entry['options']['target'] == target and f'for {target}' in entry['notes']
    assert entry['options']['reduce_range'] == (
        target == 'cpu' and cpu_int8_support().needs_reduce_range)
    with caplog.at_level(logging.WARNING, logger='accel_ai_ros'):
        with OnnxRuntimeRunner(out / 'c_int8.onnx') as runner:
            assert runner.int8_target == target
            assert f'INT8 made for {target}' in runner.describe()
            assert ('off target' in runner.describe()) == (target == 'tensorrt')
            x = np.zeros((1, 3, 32, 32), np.float32)
            assert runner.infer({'input': x})['logits'].shape == (1, 10)
    warned = [r.getMessage() for r in caplog.records if 'INT8 model' in r.getMessage()]
    assert bool(warned) == (target == 'tensorrt')  # made for TensorRT, run on the CPU


def test_modelopt_quantizer_refused_clearly_where_absent(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    """--int8-quantizer modelopt names the install (or the method) instead of failing deep."""
    from accel_ai_ros_tools.variants.modelopt_int8 import modelopt_error
    photos = tmp_path / 'photos'
    photos.mkdir()
    cv2.imwrite(str(photos / 'a.png'), data.astronaut()[..., ::-1])
    argv = [str(make_classifier(tmp_path / 'c.onnx')), '--output-dir', str(tmp_path / 'o'),
            '--precisions', 'int8', '--calibration-images', str(photos), '--force',
            '--int8-quantizer', 'modelopt']
    assert main(argv) == 1  # the default method, percentile, is not Model Optimizer's
    assert 'minmax or entropy' in capsys.readouterr().err
    if modelopt_error() is None:
        pytest.skip('Model Optimizer is installed here; the next check is for its absence')
    assert main(argv + ['--calibration-method', 'minmax']) == 1
    err = capsys.readouterr().err
    assert 'nvidia-modelopt' in err and '--int8-quantizer onnxruntime' in err
    assert 'Traceback' not in err


def test_modelopt_tensorrt_target(tmp_path: Path) -> None:
    """Where Model Optimizer is installed: symmetric int8 Q/DQ, the target in the metadata."""
    pytest.importorskip('modelopt.onnx.quantization')
    import onnx

    from accel_ai_ros.image_codec import DecodedImage
    from accel_ai_ros.preprocess import PreprocessSpec
    from accel_ai_ros_tools.variants.calibration import CalibrationReader
    from accel_ai_ros_tools.variants.modelopt_int8 import quantize_int8_modelopt
    frames = [DecodedImage(np.ascontiguousarray(getattr(data, n)()), 'rgb')
              for n in ('astronaut', 'coffee', 'chelsea')]
    reader = CalibrationReader(iter(frames), PreprocessSpec(32, 32), 'input')
    model, options = quantize_int8_modelopt(onnx.load(str(make_classifier(tmp_path / 'c.onnx'))),
                                            reader)
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta['accel_ai_ros.int8_target'] == 'tensorrt' and options['calibration_frames'] == 3
    zero_points = [t for t in model.graph.initializer if t.name.endswith('zero_point')]
    assert zero_points and all(t.data_type == onnx.TensorProto.INT8 for t in zero_points)


def test_cli_cpu_target_in_qoperator_format(tmp_path: Path) -> None:
    """--int8-format qoperator writes ONNX Runtime's QLinearConv; TensorRT's target refuses it."""
    import onnx
    photos = tmp_path / 'photos'
    photos.mkdir()
    cv2.imwrite(str(photos / 'a.png'), data.astronaut()[..., ::-1])
    argv = [str(make_classifier(tmp_path / 'c.onnx')), '--output-dir', str(tmp_path / 'o'),
            '--precisions', 'int8', '--calibration-images', str(photos), '--force',
            '--int8-format', 'qoperator']
    assert main(argv + ['--int8-target', 'cpu']) == 0
    ops = [n.op_type for n in onnx.load(str(tmp_path / 'o' / 'c_int8.onnx')).graph.node]
    assert 'QLinearConv' in ops and 'Conv' not in ops
    assert main(argv + ['--int8-target', 'tensorrt', '--int8-quantizer', 'onnxruntime']) == 1


def test_calibrator_numpy_warnings_become_one_line(caplog: pytest.LogCaptureFixture) -> None:
    """An empty tensor makes the percentile calibrator divide 0 by 0: one line, no raw warning."""
    import warnings

    import onnx
    from onnx import helper
    from onnx import numpy_helper
    from onnx import TensorProto

    from accel_ai_ros.image_codec import DecodedImage
    from accel_ai_ros.preprocess import PreprocessSpec
    from accel_ai_ros_tools.variants.calibration import CalibrationReader
    from accel_ai_ros_tools.variants.int8 import quantize_int8
    weight = np.random.default_rng(0).normal(size=(3, 3, 3, 3)).astype(np.float32)
    slicing = (('s', 0), ('e', 0), ('a', 1))  # starts, ends, axes: channels 0 to 0
    inits = [numpy_helper.from_array(weight, 'w')] + [
        numpy_helper.from_array(np.array([v], np.int64), n) for n, v in slicing]
    nodes = [helper.make_node('Conv', ['input', 'w'], ['c'], pads=[1, 1, 1, 1]),
             helper.make_node('Slice', ['c', 's', 'e', 'a'], ['empty']),  # 0 channels
             helper.make_node('Concat', ['c', 'empty'], ['out'], axis=1)]
    graph = helper.make_graph(
        nodes, 'empty_tensor', [helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                                              [1, 3, 16, 16])],
        [helper.make_tensor_value_info('out', TensorProto.FLOAT, [1, 3, 16, 16])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    spec = PreprocessSpec(16, 16)
    frames = [DecodedImage(np.random.default_rng(i).integers(0, 255, (16, 16, 3), np.uint8),
                           'rgb') for i in range(3)]
    with warnings.catch_warnings(record=True) as escaped, \
            caplog.at_level(logging.WARNING, logger='accel_ai_ros'):
        warnings.simplefilter('always')
        quantize_int8(model, spec, CalibrationReader(iter(frames), spec, 'input'),
                      method='percentile')
    assert not [w for w in escaped if issubclass(w.category, RuntimeWarning)]
    lines = [r.getMessage() for r in caplog.records if 'numerical warning' in r.getMessage()]
    assert len(lines) == 1 and 'invalid value encountered in divide' in lines[0]
