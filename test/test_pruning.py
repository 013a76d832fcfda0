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

"""Post-training pruning (accel_ai_ros_tools.variants.pruning) on real ONNX models, no PyTorch.

Every pattern is checked on the file written to disk. The face detector's agreement with the
original is measured on scikit-image's astronaut() and bounded by what was measured when
these tests were written (the figures are in docs/pruning.md).
"""

from pathlib import Path
import subprocess
import sys
from typing import Dict

from models import make_classifier
from models import make_legacy_model
from models import make_two_output_model
import numpy as np
import onnx
from onnx import helper
from onnx import numpy_helper
from onnx import TensorProto
import onnxruntime as ort
import pytest

from accel_ai_ros_tools.variants import pruning
from accel_ai_ros_tools.variants import VariantError
from accel_ai_ros_tools.variants.onnx_fixes import with_min_ir_version


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=['CPUExecutionProvider'])


def _run(model: onnx.ModelProto, feeds: Dict[str, np.ndarray]) -> list:
    return _session(model).run(None, feeds)


def _matmul_model(path: Path, trans_b_gemm: bool = False) -> Path:
    """Write input [1, 8] -> MatMul [8, 12] -> Relu -> Gemm (B [12, 16], transB 0) -> out."""
    rng = np.random.default_rng(1)
    w1 = rng.standard_normal((8, 12)).astype(np.float32)
    w2 = rng.standard_normal((12, 16)).astype(np.float32)
    nodes = [helper.make_node('MatMul', ['x', 'w1'], ['h']),
             helper.make_node('Relu', ['h'], ['r']),
             helper.make_node('Gemm', ['r', 'w2'], ['y'], transB=0)]
    graph = helper.make_graph(
        nodes, 'mm', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 16])],
        [numpy_helper.from_array(w1, 'w1'), numpy_helper.from_array(w2, 'w2')])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
    onnx.save(with_min_ir_version(model), str(path))
    return path


def _weight(model: onnx.ModelProto, name: str) -> np.ndarray:
    return next(numpy_helper.to_array(t) for t in model.graph.initializer if t.name == name)


def test_import_needs_no_torch() -> None:
    code = ('import sys, accel_ai_ros_tools.variants.pruning, accel_ai_ros_tools.bench_sparsity; '
            'import accel_ai_ros_tools.demo_train; sys.exit("torch" in sys.modules)')
    assert subprocess.run([sys.executable, '-c', code]).returncode == 0


def test_2_4_on_test_models_follows_the_input_axis(tmp_path: Path) -> None:
    # Gemm with transB=1 ([out, in]), MatMul ([in, out]) and Gemm with transB=0 ([in, out]).
    for path in (make_classifier(tmp_path / 'c.onnx'), _matmul_model(tmp_path / 'm.onnx'),
                 make_legacy_model(tmp_path / 'l.onnx')):
        out = pruning.make_pruned_variant(path, '2:4', 0.0, tmp_path / f'{path.stem}_24.onnx')
        model = onnx.load(str(out))
        checks = pruning.check_2_4(model)
        assert checks and all(checks.values()), checks
        notes = pruning.pruning_notes(model)
        # The 3-input-channel convolution cannot be 2:4: it is skipped and said so.
        if 'conv.weight' in notes['skipped']:
            assert 'not a multiple of 4' in notes['skipped']['conv.weight']
    model = onnx.load(str(tmp_path / 'm_24.onnx'))
    # Independent check in the [in, out] layout: groups of 4 down each column.
    for name in ('w1', 'w2'):
        w = _weight(model, name)
        groups = w.T.reshape(w.shape[1], -1, 4)
        assert np.all(np.count_nonzero(groups, axis=-1) == 2)
    fc = _weight(onnx.load(str(tmp_path / 'c_24.onnx')), 'fc.weight')  # [out, in]
    assert np.all(np.count_nonzero(fc.reshape(fc.shape[0], -1, 4), axis=-1) == 2)
    # An unpruned weight fails the check.
    assert not any(pruning.check_2_4(onnx.load(str(tmp_path / 'm.onnx'))).values())


@pytest.mark.parametrize('scope', ['layer', 'global'])
@pytest.mark.parametrize('sparsity', [0.5, 0.8])
def test_magnitude_reaches_the_requested_fraction(tmp_path: Path, scope: str,
                                                  sparsity: float) -> None:
    model = onnx.load(str(make_two_output_model(tmp_path / 'two.onnx')))
    pruned = pruning.prune_magnitude(model, sparsity, scope)
    report = pruning.sparsity_report(pruned)
    assert report['sparsity'] == pytest.approx(sparsity, abs=0.002)
    if scope == 'layer':
        for layer in report['layers'].values():
            assert layer['sparsity'] == pytest.approx(sparsity, abs=1.0 / layer['params'])
    x = np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32)
    assert [o.shape for o in _run(pruned, {'input': x})] == [(1, 16, 2), (1, 16, 4)]
    with pytest.raises(VariantError):
        pruning.prune_magnitude(model, 1.0)


def test_channel_pruning_shrinks_layers(tmp_path: Path) -> None:
    path = make_classifier(tmp_path / 'c.onnx', hidden=16)
    out = pruning.make_pruned_variant(path, 'channel', 0.5, tmp_path / 'c_ch.onnx')
    before, after = onnx.load(str(path)), onnx.load(str(out))
    assert pruning.pruning_notes(after)['pruned'] == {'conv.weight': [16, 8]}
    assert list(_weight(after, 'conv.weight').shape) == [8, 3, 3, 3]
    assert list(_weight(after, 'fc.weight').shape) == [10, 8]
    assert pruning.sparsity_report(after)['total_params'] < \
        pruning.sparsity_report(before)['total_params']
    assert out.stat().st_size < path.stat().st_size
    x = np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32)
    assert _run(after, {'input': x})[0].shape == _run(before, {'input': x})[0].shape == (1, 10)
    # MatMul -> Relu -> Gemm(transB=0): the MatMul's columns and the Gemm's rows go.
    mm = onnx.load(str(_matmul_model(tmp_path / 'm.onnx')))
    small = pruning.prune_channels(mm, 0.25)
    assert _weight(small, 'w1').shape == (8, 9) and _weight(small, 'w2').shape == (9, 16)
    # The Gemm feeds the graph output: it is skipped, with the reason.
    assert 'graph output' in pruning.pruning_notes(small)['skipped']['w2']
    assert _run(small, {'x': np.ones((1, 8), np.float32)})[0].shape == (1, 16)


def test_write_is_atomic_and_errors_are_variant_errors(tmp_path: Path) -> None:
    path = make_classifier(tmp_path / 'c.onnx')
    target = tmp_path / 'taken'
    target.mkdir()  # os.replace onto a directory fails after the temp file is written
    with pytest.raises(OSError):
        pruning.make_pruned_variant(path, 'magnitude', 0.5, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['c.onnx', 'taken']
    with pytest.raises(VariantError, match='unknown pruning method'):
        pruning.make_pruned_variant(path, 'random', 0.5, tmp_path / 'x.onnx')
    with pytest.raises(VariantError, match='does not exist'):
        pruning.make_pruned_variant(tmp_path / 'none.onnx', '2:4', 0.0, tmp_path / 'x.onnx')
    (tmp_path / 'junk.onnx').write_bytes(b'not a model')
    with pytest.raises(VariantError, match='cannot read'):
        pruning.make_pruned_variant(tmp_path / 'junk.onnx', '2:4', 0.0, tmp_path / 'x.onnx')
    assert not (tmp_path / 'x.onnx').exists()


@pytest.fixture(scope='module')
def astronaut_input() -> np.ndarray:
    data = pytest.importorskip('skimage.data')
    from accel_ai_ros.image_codec import DecodedImage
    from accel_ai_ros.preprocess import CpuPreprocessor
    from accel_ai_ros.preprocess import PreprocessSpec
    spec = PreprocessSpec(240, 320, resize_mode='stretch', channel_order='rgb', scale=1.0,
                          mean=(127.0, 127.0, 127.0), std=(128.0, 128.0, 128.0),
                          layout='nchw', dtype='float32')
    tensor, _ = CpuPreprocessor(spec)(DecodedImage(data.astronaut(), 'rgb'))
    return np.asarray(tensor)


# method, amount, scope; whether the astronaut's face survives (best face score > 0.99) and
# the largest face-score change over all 4420 anchors, as measured (+ margin).
FACE_CASES = [
    ('2:4', 0.0, 'global', False, 1.0),     # measured: best score 0.20, face lost
    ('magnitude', 0.5, 'global', True, 0.15),  # measured: 1.0000, max|diff| 0.105
    ('magnitude', 0.5, 'layer', False, 1.0),   # measured: best score 0.16, face lost
    ('channel', 0.1, 'global', True, 0.60),    # measured: 1.0000, max|diff| 0.512
]


@pytest.mark.parametrize('method,amount,scope,kept,max_diff', FACE_CASES)
def test_face_detector_pruned_variants(face_model: Path, astronaut_input: np.ndarray,
                                       tmp_path: Path, method: str, amount: float,
                                       scope: str, kept: bool, max_diff: float) -> None:
    out = pruning.make_pruned_variant(face_model, method, amount, tmp_path / 'p.onnx', scope)
    original, pruned = onnx.load(str(face_model)), onnx.load(str(out))
    reference = _run(original, {'input': astronaut_input})
    outputs = _run(pruned, {'input': astronaut_input})
    assert [o.shape for o in outputs] == [o.shape for o in reference]
    face, face_ref = outputs[0][0, :, 1], reference[0][0, :, 1]
    diff = float(np.abs(face - face_ref).max())
    print(f'{method} {amount} {scope}: best face score {face.max():.4f} '
          f'(original {face_ref.max():.4f}), max|diff| {diff:.4f}')
    assert diff <= max_diff
    assert (face.max() > 0.99) == kept
    report = pruning.sparsity_report(pruned)
    if method == '2:4':
        checks = pruning.check_2_4(pruned)
        assert len(checks) == 22 and all(checks.values())
        assert len(pruning.pruning_notes(pruned)['skipped']) == 20  # 3-channel + depthwise
        assert report['sparsity'] == pytest.approx(0.4643, abs=1e-3)
    elif method == 'magnitude':
        assert report['sparsity'] == pytest.approx(amount, abs=1e-3)
    else:
        assert report['total_params'] < pruning.sparsity_report(original)['total_params']
        assert out.stat().st_size < face_model.stat().st_size
