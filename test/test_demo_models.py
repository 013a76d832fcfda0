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

"""The offline demo models: real training, real ONNX files, real ONNX Runtime scores."""

import json
from pathlib import Path
from typing import Dict

import numpy as np
import pytest

pytest.importorskip('sklearn')
pytest.importorskip('onnxconverter_common')
onnx = pytest.importorskip('onnx')
ort = pytest.importorskip('onnxruntime')

from accel_ai_ros.backends.onnxruntime.int8_target import cpu_int8_support  # noqa: E402
from accel_ai_ros.backends.onnxruntime.int8_target import INT8_TARGET_KEY  # noqa: E402
from accel_ai_ros.backends.onnxruntime.int8_target import REDUCE_RANGE_KEY  # noqa: E402
from accel_ai_ros_tools import digits  # noqa: E402
from accel_ai_ros_tools.demo_models import main  # noqa: E402
from accel_ai_ros_tools.demo_models import model_file  # noqa: E402
from accel_ai_ros_tools.demo_models import output_files  # noqa: E402
from accel_ai_ros_tools.digits import held_out_digits  # noqa: E402

# Measured with seed 0: FP32 0.9733 held out, FP16 agrees 100 %. The INT8 model is the cpu
# target made for the CPU at hand; its agreement, measured on a VNNI CPU (8-bit weights) and
# under QEMU's Haswell model (AVX2 without VNNI, 7-bit weights): 100 % and 99.8 %. The old
# symmetric int8 model agreed 95.6 % on the AVX2 CPU (int16 saturation), which this bound
# catches.
MIN_FP32_ACCURACY = 0.94
MIN_FP16_AGREEMENT = 0.99
MIN_INT8_AGREEMENT = 0.98


@pytest.fixture(scope='module')
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the demo models once for this module."""
    out = tmp_path_factory.mktemp('demo') / 'models'
    assert main(['--output-dir', str(out), '--seed', '0']) == 0
    return out


def _scores(path: Path, images_u8: np.ndarray) -> np.ndarray:
    """Run the model on uint8 digits preprocessed as manifest.json says."""
    manifest = json.loads((path.parent / 'manifest.json').read_text())
    pre = manifest['preprocessing']
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    out = []
    for image in images_u8:
        x = (image.astype(np.float32) * pre['scale'] - pre['mean'][0]) / pre['std'][0]
        feed = {pre['input_name']: x.reshape(1, 1, 8, 8).astype(np.float32)}
        out.append(session.run([pre['output_name']], feed)[0])
    return np.concatenate(out)


def test_all_files_written(models: Path) -> None:
    """Every file is there, labels are 0..9, and no temp file is left behind."""
    assert sorted(p.name for p in models.iterdir()) == sorted(output_files())
    assert (models / 'labels.txt').read_text().split() == [str(i) for i in range(10)]
    manifest = json.loads((models / 'manifest.json').read_text())
    pre = manifest['preprocessing']
    assert pre['channel_order'] == 'mono' and pre['resize'] == 'center_crop'
    assert (pre['input_width'], pre['input_height']) == (8, 8)
    assert pre['scale'] * 255 == pytest.approx(16.0)


@pytest.mark.parametrize('variant', ['fp32', 'fp16', 'int8'])
def test_each_variant_runs_with_float32_io(models: Path, variant: str) -> None:
    """Each variant loads in ONNX Runtime with float32 [1,1,8,8] in, [1,10] probabilities."""
    session = ort.InferenceSession(str(models / model_file(variant)),
                                   providers=['CPUExecutionProvider'])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, inp.type, inp.shape) == ('image', 'tensor(float)', [1, 1, 8, 8])
    assert (out.name, out.type, out.shape) == ('probabilities', 'tensor(float)', [1, 10])
    images, _ = held_out_digits(0)
    probs = _scores(models / model_file(variant), images[:20])
    assert probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=0.05)


def test_accuracy_and_agreement(models: Path) -> None:
    """FP32 is accurate on the held-out split; FP16 and INT8 agree with it; manifest is true."""
    images, labels = held_out_digits(0)
    assert images.dtype == np.uint8 and images.shape == (450, 8, 8) and images.max() == 255
    assert sorted(set(labels.tolist())) == list(range(10))
    top1: Dict[str, np.ndarray] = {
        v: _scores(models / model_file(v), images).argmax(axis=1)
        for v in ('fp32', 'fp16', 'int8')}
    accuracy = float(np.mean(top1['fp32'] == labels))
    assert accuracy >= MIN_FP32_ACCURACY
    assert np.mean(top1['fp16'] == top1['fp32']) >= MIN_FP16_AGREEMENT
    assert np.mean(top1['int8'] == top1['fp32']) >= MIN_INT8_AGREEMENT
    variants = json.loads((models / 'manifest.json').read_text())['variants']
    for v, pred in top1.items():
        assert variants[v]['held_out_accuracy'] == pytest.approx(
            float(np.mean(pred == labels)), abs=1e-4)


def test_held_out_split_is_deterministic_and_disjoint() -> None:
    """The same seed gives the same split; it shares no row with the training split."""
    a_img, a_lab = held_out_digits(0)
    b_img, b_lab = held_out_digits(0)
    np.testing.assert_array_equal(a_img, b_img)
    np.testing.assert_array_equal(a_lab, b_lab)
    x_train, x_test, _, _ = digits.split(0)
    assert len(x_train) + len(x_test) == 1797
    train_rows = {row.tobytes() for row in x_train.reshape(len(x_train), -1)}
    test_rows = [row.tobytes() for row in x_test.reshape(len(x_test), -1)]
    # A handful of digits occur twice in the data set; nearly all held-out rows are unseen.
    assert sum(r in train_rows for r in test_rows) < 10
    assert not np.array_equal(held_out_digits(1)[1], a_lab)


def test_fp16_model_computes_in_half(models: Path) -> None:
    """The FP16 file stores float16 weights behind float32 inputs and outputs."""
    model = onnx.load(str(models / model_file('fp16')))
    weights = [i for i in model.graph.initializer if i.name.endswith('weight')]
    assert weights and all(w.data_type == onnx.TensorProto.FLOAT16 for w in weights)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_int8_model_is_the_cpu_target(models: Path) -> None:
    """
    The INT8 file is the variants library's ``cpu`` target for this CPU.

    Guards item 5 of issue 16 (the demo makes its INT8 model as make_variants does):
    uint8 activations with zero points, int8 per-channel weights with zero points 0, the
    target in the metadata, and 7-bit weights exactly where this CPU lacks VNNI.
    """
    model = onnx.load(str(models / model_file('int8')))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count('QuantizeLinear') >= 2 and ops.count('DequantizeLinear') >= 4
    meta = {p.key: p.value for p in model.metadata_props}
    needs = cpu_int8_support().needs_reduce_range
    assert meta[INT8_TARGET_KEY] == 'cpu' and meta[REDUCE_RANGE_KEY] == str(needs).lower()
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    weights = {n: w for n, w in inits.items() if w.dtype == np.int8 and w.ndim == 2}
    assert sorted(w.shape for w in weights.values()) == [(10, 96), (96, 64)]
    for weight in weights.values():  # 7-bit weights stay within [-64, 64], 8-bit reach 127
        assert (np.abs(weight).max() <= 64) == needs
    for node in model.graph.node:
        if node.op_type == 'DequantizeLinear' and node.input[0] in weights:
            assert not inits[node.input[2]].any()  # weights: symmetric
            assert inits[node.input[1]].shape == (weights[node.input[0]].shape[0],)
        elif node.op_type == 'QuantizeLinear':
            assert inits[node.input[2]].dtype == np.uint8  # activations: uint8
    manifest = json.loads((models / 'manifest.json').read_text())
    assert manifest['int8']['target'] == 'cpu' and manifest['int8']['reduce_range'] == needs


def test_not_rewritten_without_force(models: Path, capsys: pytest.CaptureFixture) -> None:
    """A second run leaves files untouched; --force rewrites them."""
    before = {n: (models / n).stat().st_mtime_ns for n in output_files()}
    assert main(['--output-dir', str(models)]) == 0
    assert 'up to date' in capsys.readouterr().out
    assert {n: (models / n).stat().st_mtime_ns for n in output_files()} == before
    inode = (models / 'digits_fp32.onnx').stat().st_ino
    assert main(['--output-dir', str(models), '--force']) == 0
    after = (models / 'digits_fp32.onnx').stat()
    assert (after.st_mtime_ns, after.st_ino) != (before['digits_fp32.onnx'], inode)


def test_unwritable_output_dir_fails_cleanly(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """An output path under a regular file gives exit 1 and one clear stderr line."""
    blocker = tmp_path / 'not_a_dir'
    blocker.write_text('x')
    assert main(['--output-dir', str(blocker / 'models')]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert 'Traceback' not in err and str(blocker / 'models') in err


@pytest.mark.parametrize('blocked', ['digits_fp16.onnx', 'digits_int8.onnx', 'manifest.json'])
def test_failed_write_leaves_no_temp_files(tmp_path: Path, capsys: pytest.CaptureFixture,
                                           blocked: str) -> None:
    """When a file cannot be replaced, the run fails cleanly and removes its temp files."""
    (tmp_path / blocked).mkdir()
    assert main(['--output-dir', str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and 'Traceback' not in err
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith('.tmp')]
    assert leftovers == []
    assert (tmp_path / blocked).is_dir()
