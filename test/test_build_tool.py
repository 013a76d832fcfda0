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

"""``build_engine``: arguments, errors, and the ONNX precision check made before building.

The models are real: an FP32 classifier from ``onnx.helper``, its FP16 conversion by
onnxconverter-common, and Q/DQ and QOperator quantizations by onnxruntime.quantization.
"""

import os
from pathlib import Path
import subprocess
import sys
from typing import Iterator

from models import make_classifier
import numpy as np
import pytest

from accel_ai_ros.backends.registry import available_backends
from accel_ai_ros.backends.tensorrt.build import check_precision_request
from accel_ai_ros.backends.tensorrt.build import inspect_onnx
from accel_ai_ros.backends.tensorrt.build import OnnxPrecision
from accel_ai_ros.backends.tensorrt.profile_shapes import parse_shape
from accel_ai_ros.backends.tensorrt.profile_shapes import profile_from_args
from accel_ai_ros.errors import EngineError
from accel_ai_ros.errors import ParameterError
from accel_ai_ros_tools.build import main
from accel_ai_ros_tools.build import parse_precisions

REPO = Path(__file__).resolve().parents[1]


def _fp16_model(path: Path) -> Path:
    float16 = pytest.importorskip('onnxconverter_common.float16')
    import onnx
    fp32 = make_classifier(path.with_name('fp32.onnx'))
    onnx.save(float16.convert_float_to_float16(onnx.load(str(fp32)), keep_io_types=True),
              str(path))
    return path


def _quantized_model(path: Path, fmt: str) -> Path:
    quantization = pytest.importorskip('onnxruntime.quantization')
    fp32 = make_classifier(path.with_name('fp32.onnx'))

    class Reader(quantization.CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            rng = np.random.default_rng(0)
            self.batches: Iterator[dict] = iter(
                [{'input': rng.standard_normal((1, 3, 32, 32)).astype(np.float32)}
                 for _ in range(4)])

        def get_next(self) -> object:
            return next(self.batches, None)

    quantization.quantize_static(
        str(fp32), str(path), Reader(), quant_format=getattr(quantization.QuantFormat, fmt),
        activation_type=quantization.QuantType.QInt8, weight_type=quantization.QuantType.QInt8)
    return path


# -- ONNX inspection ----------------------------------------------------------------------------

def test_inspect_fp32_fp16_qdq_and_qoperator_models(tmp_path: Path) -> None:
    fp32 = inspect_onnx(make_classifier(tmp_path / 'a.onnx'))
    assert fp32 == OnnxPrecision('fp32', 0, 0, ())
    fp16 = inspect_onnx(_fp16_model(tmp_path / 'fp16.onnx'))
    assert fp16.float_type == 'fp16' and fp16.qdq_nodes == 0
    qdq = inspect_onnx(_quantized_model(tmp_path / 'qdq.onnx', 'QDQ'))
    assert qdq.qdq_nodes >= 2 and qdq.qoperator_ops == () and qdq.nonstandard_qdq == 0
    qop = inspect_onnx(_quantized_model(tmp_path / 'qop.onnx', 'QOperator'))
    assert 'QLinearConv' in qop.qoperator_ops
    with pytest.raises(EngineError, match='re-export'):
        broken = tmp_path / 'broken.onnx'
        broken.write_bytes(b'not onnx')
        inspect_onnx(broken)


def test_precision_request_checks() -> None:
    fp32 = OnnxPrecision('fp32', 0, 0, ())
    fp16 = OnnxPrecision('fp16', 0, 0, ())
    qdq = OnnxPrecision('fp32', 12, 0, ())
    assert check_precision_request('fp32', fp32, 11) == []
    assert check_precision_request('fp16', fp16, 11) == []
    assert check_precision_request('int8', qdq, 11) == []
    [warning] = check_precision_request('fp16', fp32, 11)
    assert 'runs in FP32' in warning and 'make_variants' in warning
    assert '--legacy-flags' not in warning
    assert '--legacy-flags' in check_precision_request('fp16', fp32, 10)[0]
    assert check_precision_request('fp16', fp32, 10, legacy_flags=True) == []
    with pytest.raises(ParameterError, match='Q/DQ.*QuantFormat.QDQ'):
        check_precision_request('int8', fp32, 11)
    with pytest.raises(ParameterError, match='Q/DQ'):
        check_precision_request('int8', fp32, 10)
    assert 'no calibrator' in check_precision_request('int8', fp32, 10, legacy_flags=True)[0]
    assert 'FP16 weights' in check_precision_request('fp32', fp16, 11)[0]
    assert 'run in INT8' in check_precision_request('fp32', qdq, 11)[0]
    with pytest.raises(ParameterError, match='QOperator'):
        check_precision_request('int8', OnnxPrecision('fp32', 0, 0, ('QLinearConv',)), 10)
    with pytest.raises(ParameterError, match='com.microsoft'):
        check_precision_request('int8', OnnxPrecision('fp32', 0, 4, ()), 11)


# -- arguments ----------------------------------------------------------------------------------

def test_shape_and_precision_arguments() -> None:
    assert parse_shape('images:1x3x640x640') == ('images', (1, 3, 640, 640))
    assert parse_shape('ns:input:1X3') == ('ns:input', (1, 3))
    for bad in ('1x3x640x640', 'input:', 'input:1xax3', 'input:0x3'):
        with pytest.raises(ParameterError, match='NAME:DxDxD'):
            parse_shape(bad)
    profile = profile_from_args(['x:1x3x320x320'], ['x:1x3x640x640'], ['x:4x3x1280x1280'])
    assert profile == {'x': ((1, 3, 320, 320), (1, 3, 640, 640), (4, 3, 1280, 1280))}
    with pytest.raises(ParameterError, match='--max-shape'):
        profile_from_args(['x:1x3'], ['x:1x3'], [])
    with pytest.raises(ParameterError, match='min <= opt <= max'):
        profile_from_args(['x:2x3'], ['x:1x3'], ['x:4x3'])
    assert parse_precisions([]) == ['fp32']
    assert parse_precisions(['fp16,int8', 'FP16']) == ['fp16', 'int8']
    with pytest.raises(ParameterError, match='fp32, fp16, int8'):
        parse_precisions(['fp64'])


def test_bad_arguments_exit_2_or_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(['m.onnx', '--workspace-mb', 'lots'])
    assert info.value.code == 2
    capsys.readouterr()
    onnx = make_classifier(tmp_path / 'm.onnx')
    cases = [
        ([str(onnx), '--precision', 'fp64'], 'fp32, fp16, int8'),
        ([str(onnx), '--min-shape', 'input:1x3'], '--opt-shape'),
        ([str(onnx), '--workspace-mb', '-1'], 'workspace'),
        ([str(tmp_path / 'absent.onnx')], 'does not exist'),
    ]
    for argv, expected in cases:
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.count('\n') == 1 and err.startswith('build_engine: error:'), err
        assert expected in err


def test_without_tensorrt_exits_1_with_one_line(tmp_path: Path) -> None:
    if available_backends()['tensorrt'] is None:
        pytest.skip('TensorRT is installed here')
    onnx = make_classifier(tmp_path / 'm.onnx')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]))
    result = subprocess.run(
        [sys.executable, '-m', 'accel_ai_ros_tools.build', str(onnx), '--cache-dir',
         str(tmp_path / 'cache')], env=env, capture_output=True, text=True, timeout=120,
        check=False)
    assert result.returncode == 1
    assert result.stdout == ''
    assert result.stderr.count('\n') == 1, result.stderr
    assert 'Traceback' not in result.stderr
    assert 'pip install tensorrt' in result.stderr and 'JetPack' in result.stderr
    assert not (tmp_path / 'cache').exists()
