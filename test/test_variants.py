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

"""Precision variants: ONNX fixes, FP16, INT8 (QDQ), calibration sources, cache, manifest, CLI.

Agreement with FP32 is measured with ONNX Runtime on scikit-image's photographs, preprocessed
as the node does; the bounds below are the measured values with a margin.
"""

import json
from pathlib import Path
from typing import Any
from typing import Dict
from typing import List

import cv2
from models import make_classifier
from models import make_dynamic_model
from models import make_legacy_model
from models import make_two_output_model
import numpy as np
import onnx
from onnx import numpy_helper
import onnxruntime as ort
import pytest
from skimage import data

from accel_ai_ros.backends.onnxruntime.int8_target import cpu_int8_support
from accel_ai_ros.backends.onnxruntime.int8_target import INT8_TARGET_KEY
from accel_ai_ros.backends.onnxruntime.int8_target import REDUCE_RANGE_KEY
from accel_ai_ros.image_codec import DecodedImage
from accel_ai_ros.params import values_from_file
from accel_ai_ros.preprocess import CpuPreprocessor
from accel_ai_ros.preprocess import PreprocessSpec
from accel_ai_ros_tools.variants import VariantError
from accel_ai_ros_tools.variants.calibration import CalibrationCache
from accel_ai_ros_tools.variants.calibration import CalibrationReader
from accel_ai_ros_tools.variants.calibration import iter_image_folder
from accel_ai_ros_tools.variants.calibration import iter_video
from accel_ai_ros_tools.variants.calibration import spec_from_params
from accel_ai_ros_tools.variants.cli import main
from accel_ai_ros_tools.variants.fp16 import convert_fp16
from accel_ai_ros_tools.variants.int8 import quantize_int8
from accel_ai_ros_tools.variants.manifest import add_variant
from accel_ai_ros_tools.variants.manifest import new_manifest
from accel_ai_ros_tools.variants.manifest import read_manifest
from accel_ai_ros_tools.variants.manifest import write_manifest
from accel_ai_ros_tools.variants.mixed import session
from accel_ai_ros_tools.variants.onnx_fixes import default_opset
from accel_ai_ros_tools.variants.onnx_fixes import fix_batch_dim
from accel_ai_ros_tools.variants.onnx_fixes import infer_shapes
from accel_ai_ros_tools.variants.onnx_fixes import prepare_model
from accel_ai_ros_tools.variants.onnx_fixes import remove_initializer_inputs
from accel_ai_ros_tools.variants.onnx_fixes import upgrade_opset

REPO = Path(__file__).resolve().parents[1]
FACE_SPEC = PreprocessSpec(240, 320, resize_mode='stretch', scale=1.0, mean=(127.0,),
                           std=(128.0,))
SMALL_SPEC = PreprocessSpec(32, 32, resize_mode='letterbox')


def _photos() -> List[DecodedImage]:
    out = []
    for name in ('astronaut', 'coffee', 'chelsea', 'rocket', 'camera'):
        pixels = getattr(data, name)()
        if pixels.ndim == 2:
            pixels = cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB)
        out.append(DecodedImage(np.ascontiguousarray(pixels), 'rgb'))
    return out


PHOTOS = _photos()


def _session(model: onnx.ModelProto, qdq_as_float: bool = False) -> ort.InferenceSession:
    """
    Return a CPU session; ``qdq_as_float`` runs Q/DQ models as their definition computes.

    ONNX Runtime then keeps QuantizeLinear/DequantizeLinear apart and runs float operators
    between them: every int8 product summed exactly, as TensorRT sums into int32. With its
    fused integer kernels instead, a CPU without VNNI saturates int16 sums of symmetric int8
    models (measured under QEMU's Haswell model: the face detector's box error 0.094 becomes
    0.151), so TensorRT-target models are checked this way on every CPU.
    """
    return session(model, qdq_as_float)


def _outputs(model: onnx.ModelProto, spec: PreprocessSpec,
             qdq_as_float: bool = False) -> List[List[np.ndarray]]:
    session = _session(model, qdq_as_float)
    name = session.get_inputs()[0].name
    pre = CpuPreprocessor(spec)
    return [session.run(None, {name: pre(image)[0]}) for image in PHOTOS]


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _write_photos(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(PHOTOS):
        cv2.imwrite(str(folder / f'{i}.png'), cv2.cvtColor(image.pixels, cv2.COLOR_RGB2BGR))
    return folder


# -- ONNX fixes ---------------------------------------------------------------------------
def test_remove_initializer_inputs_keeps_results(tmp_path: Path) -> None:
    legacy = onnx.load(str(make_legacy_model(tmp_path / 'legacy.onnx')))
    assert len(legacy.graph.input) == 5
    fixed = remove_initializer_inputs(legacy)
    assert [v.name for v in fixed.graph.input] == ['input']
    assert len(legacy.graph.input) == 5  # the argument is not changed
    x = np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32)
    # weights become constants ONNX Runtime may fold: equal up to float rounding
    np.testing.assert_allclose(_session(legacy).run(None, {'input': x})[0],
                               _session(fixed).run(None, {'input': x})[0], atol=1e-6)


def test_upgrade_opset(tmp_path: Path) -> None:
    legacy = onnx.load(str(make_legacy_model(tmp_path / 'legacy.onnx')))
    upgraded = upgrade_opset(legacy)
    assert default_opset(upgraded) == 17 and upgraded.ir_version >= 8
    onnx.checker.check_model(upgraded)
    modern = onnx.load(str(make_classifier(tmp_path / 'c.onnx', opset=13)))
    assert default_opset(upgrade_opset(modern)) == 13  # already enough: left alone
    with pytest.raises(VariantError, match='minimum'):
        upgrade_opset(legacy, target=11)


def test_shapes_batch_and_outputs(tmp_path: Path) -> None:
    dynamic = onnx.load(str(make_dynamic_model(tmp_path / 'd.onnx')))
    fixed = fix_batch_dim(dynamic)
    dims = fixed.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_value == 1 and dims[2].dim_param == 'height'
    assert fixed.graph.output[0].type.tensor_type.shape.dim[0].dim_value == 1
    assert len(infer_shapes(fixed).graph.value_info) >= 4
    two = onnx.load(str(make_two_output_model(tmp_path / 't.onnx')))
    assert [o.name for o in prepare_model(two, fix_batch=True).graph.output] == [
        'scores', 'boxes']


# -- the face detector: raw failures, then fixed variants ---------------------------------
@pytest.fixture(scope='module')
def face_variants(face_model: Path) -> Dict[str, Any]:
    raw = onnx.load(str(face_model))
    fp16, fp16_options = convert_fp16(raw)
    reader = CalibrationReader(iter(PHOTOS), FACE_SPEC, 'input', count=5)
    int8, int8_options = quantize_int8(raw, FACE_SPEC, reader, method='percentile')
    return {'raw': raw, 'fp32': prepare_model(raw), 'fp16': fp16, 'int8': int8,
            'fp16_options': fp16_options, 'int8_options': int8_options}


def test_face_detector_raw_conversions_fail(face_variants: Dict[str, Any],
                                            tmp_path: Path) -> None:
    from onnxconverter_common import float16  # the converter ONNX Runtime's guide names
    raw = face_variants['raw']
    assert default_opset(raw) == 9 and len(raw.graph.input) == 185
    with pytest.raises(Exception, match='float16'), pytest.warns(UserWarning):
        _session(float16.convert_float_to_float16(raw, keep_io_types=True))
    from onnxruntime import quantization as q
    path = tmp_path / 'raw.onnx'
    onnx.save(raw, str(path))
    reader = CalibrationReader(iter(PHOTOS), FACE_SPEC, 'input', count=1)
    with pytest.raises(Exception):
        q.quantize_static(str(path), str(tmp_path / 'q.onnx'), reader, per_channel=True,
                          quant_format=q.QuantFormat.QDQ)
        _session(onnx.load(str(tmp_path / 'q.onnx')))
    # after the fixes both convert, load and run (the fixture built them)
    assert len(face_variants['fp32'].graph.input) == 1
    assert default_opset(face_variants['int8']) >= 13


def test_face_detector_fp16_agreement(face_variants: Dict[str, Any]) -> None:
    fp16 = face_variants['fp16']
    assert fp16.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert all(o.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
               for o in fp16.graph.output)
    halves = [t for t in fp16.graph.initializer if t.data_type == onnx.TensorProto.FLOAT16]
    assert len(halves) > 100
    assert 'Softmax' in face_variants['fp16_options']['ops_kept_fp32']
    ref = _outputs(face_variants['fp32'], FACE_SPEC)
    out = _outputs(fp16, FACE_SPEC)
    score_err = max(float(np.abs(a[0][..., 1] - b[0][..., 1]).max()) for a, b in zip(ref, out))
    box_err = max(float(np.abs(a[1] - b[1]).max()) for a, b in zip(ref, out))
    cosine = min(_cosine(a[k], b[k]) for a, b in zip(ref, out) for k in (0, 1))
    print(f'fp16 vs fp32: face score max abs {score_err:.5f}, box max abs {box_err:.5f}, '
          f'min cosine {cosine:.7f}')
    # measured: 0.0078, 0.0051, 0.9999999
    assert score_err < 0.02 and box_err < 0.01 and cosine > 0.99999


def test_face_detector_int8_structure_and_agreement(face_variants: Dict[str, Any]) -> None:
    int8 = face_variants['int8']
    kinds = [n.op_type for n in int8.graph.node]
    assert kinds.count('QuantizeLinear') > 40 and kinds.count('DequantizeLinear') > 80
    inits = {t.name: numpy_helper.to_array(t) for t in int8.graph.initializer}
    weights = activations = 0
    for node in int8.graph.node:
        if node.op_type != 'DequantizeLinear':
            continue
        scale, zero = inits[node.input[1]], inits[node.input[2]]
        assert zero.dtype == np.int8 and not zero.any()  # symmetric: zero points 0
        if node.input[0] in inits:  # a weight: int8, one scale per output channel
            weight = inits[node.input[0]]
            axis = {a.name: a.i for a in node.attribute}.get('axis', 1)
            assert weight.dtype == np.int8 and scale.shape == (weight.shape[axis],)
            assert any(a.name == 'axis' for a in node.attribute) or axis == 1
            weights += 1
        else:  # an activation: one scale
            assert scale.size == 1
            activations += 1
    assert weights == 42 and activations > 40  # every Conv weight
    meta = {p.key: p.value for p in int8.metadata_props}
    assert meta[INT8_TARGET_KEY] == 'tensorrt' and meta[REDUCE_RANGE_KEY] == 'false'
    assert face_variants['int8_options']['target'] == 'tensorrt'
    # the accuracy of the TensorRT target, computed as TensorRT computes it on any CPU
    ref = _outputs(face_variants['fp32'], FACE_SPEC)
    out = _outputs(int8, FACE_SPEC, qdq_as_float=True)
    score_err = [float(np.abs(a[0][..., 1] - b[0][..., 1]).max()) for a, b in zip(ref, out)]
    box_err = max(float(np.abs(a[1] - b[1]).max()) for a, b in zip(ref, out))
    cosine = min(_cosine(a[k], b[k]) for a, b in zip(ref, out) for k in (0, 1))
    best = [(float(a[0][0, :, 1].max()), float(b[0][0, :, 1].max())) for a, b in zip(ref, out)]
    print(f'int8 vs fp32: face score max abs {np.round(score_err, 4)}, box max abs '
          f'{box_err:.4f}, min cosine {cosine:.5f}, best face score {best}')
    # measured (percentile 99.999, calibrated on these 5 photos, Q/DQ computed exactly): cosine
    # 0.99969, box 0.112, face score up to 0.49 off (the cat's borderline 0.51 becomes 0.79),
    # the same on every CPU. ONNX Runtime's fused kernels gave box 0.094 with VNNI and 0.151
    # without (QEMU Haswell): what failed CI on AVX2 machines.
    assert cosine > 0.9993 and box_err < 0.15 and max(score_err) < 0.7
    # the astronaut's face is found by both
    assert best[0][0] > 0.99 and best[0][1] > 0.99


def test_face_detector_cpu_target_on_this_cpu(face_model: Path) -> None:
    """
    The cpu target, run by ONNX Runtime's fused integer kernels, agrees with FP32 here.

    Guards issue 16's CI failure: one bound holds with VNNI (8-bit weights) and without
    (AVX2: 7-bit weights, chosen from the CPU flags). Measured: with VNNI min cosine 0.99981,
    box error 0.106; under QEMU's Haswell model (AVX2, no VNNI) 0.99967 and 0.082.
    """
    raw = onnx.load(str(face_model))
    reader = CalibrationReader(iter(PHOTOS), FACE_SPEC, 'input', count=5)
    int8, options = quantize_int8(raw, FACE_SPEC, reader, method='percentile', target='cpu')
    assert options['target'] == 'cpu' and options['activations'] == 'uint8 asymmetric'
    assert options['reduce_range'] == cpu_int8_support().needs_reduce_range
    ref = _outputs(prepare_model(raw), FACE_SPEC)
    out = _outputs(int8, FACE_SPEC)
    box_err = max(float(np.abs(a[1] - b[1]).max()) for a, b in zip(ref, out))
    cosine = min(_cosine(a[k], b[k]) for a, b in zip(ref, out) for k in (0, 1))
    best = [(float(a[0][0, :, 1].max()), float(b[0][0, :, 1].max())) for a, b in zip(ref, out)]
    print(f'cpu int8 ({cpu_int8_support().describe()}, reduce_range '
          f'{options["reduce_range"]}): box max abs {box_err:.4f}, min cosine {cosine:.5f}')
    assert cosine > 0.9993 and box_err < 0.13
    assert best[0][1] > 0.99


# -- calibration sources and cache --------------------------------------------------------
def test_params_file_spec() -> None:
    values = values_from_file(REPO / 'config' / 'face_detector.yaml')
    spec = spec_from_params(values, [1, 3, 240, 320], 'float32')
    assert spec == FACE_SPEC
    assert values['engines.fp32'] == 'version-slim-320.onnx' and values['task'] == 'detection'


def test_cache_reused_and_sources(tmp_path: Path) -> None:
    model = onnx.load(str(make_classifier(tmp_path / 'c.onnx')))
    cache = CalibrationCache(tmp_path / 'cache.json')
    folder = iter_image_folder(_write_photos(tmp_path / 'photos'))
    first = CalibrationReader(folder, SMALL_SPEC, 'input', count=3)
    int8, options = quantize_int8(model, SMALL_SPEC, first, cache=cache)
    assert first.frames == 3 and not options['calibration_cached']
    second = CalibrationReader(iter(PHOTOS), SMALL_SPEC, 'input')
    again, options = quantize_int8(model, SMALL_SPEC, second, cache=cache,
                                   op_types=('Conv',))
    assert second.calls == 0 and options['calibration_cached']
    assert options['calibration_frames'] == 3
    # another method calibrates again, another entry
    video = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'MJPG'), 10, (96, 64))
    for image in PHOTOS:
        writer.write(cv2.resize(cv2.cvtColor(image.pixels, cv2.COLOR_RGB2BGR), (96, 64)))
    writer.release()
    third = CalibrationReader(iter_video(video), SMALL_SPEC, 'input', count=100)
    quantize_int8(model, SMALL_SPEC, third, method='percentile', cache=cache)
    assert third.frames == 5
    stored = json.loads((tmp_path / 'cache.json').read_text())
    assert len(stored['entries']) == 2
    ref = _outputs(prepare_model(model), SMALL_SPEC)
    out = _outputs(int8, SMALL_SPEC, qdq_as_float=True)  # a TensorRT-target model
    assert min(_cosine(a[0], b[0]) for a, b in zip(ref, out)) > 0.99


def test_empty_sources_fail_clearly(tmp_path: Path) -> None:
    (tmp_path / 'empty').mkdir()
    with pytest.raises(VariantError, match='holds no images'):
        iter_image_folder(tmp_path / 'empty')
    with pytest.raises(VariantError, match='does not exist'):
        iter_video(tmp_path / 'none.avi')


# -- manifest and CLI ---------------------------------------------------------------------
def test_manifest_round_trip(tmp_path: Path) -> None:
    source = make_classifier(tmp_path / 'c.onnx')
    manifest = new_manifest(source, {'resize_mode': 'letterbox', 'channel_order': 'rgb',
                                     'scale': 1 / 255, 'mean': [0.0] * 3, 'std': [1.0] * 3,
                                     'layout': 'nchw', 'pad_value': 114}, 'classification')
    add_variant(manifest, tmp_path, 'fp32', 'fp32', source, options={'a': 1})
    add_variant(manifest, tmp_path, 'fp32', 'fp32', source, notes='again')
    write_manifest(tmp_path, manifest)
    back = read_manifest(tmp_path / 'variants.json')
    assert back == manifest and len(back['variants']) == 1
    assert back['variants'][0]['path'] == 'c.onnx'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['c.onnx', 'variants.json']


def test_cli_writes_variants_and_fails_cleanly(tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    model = make_legacy_model(tmp_path / 'legacy.onnx')
    out = tmp_path / 'out'
    photos = _write_photos(tmp_path / 'photos')
    assert main([str(model), '--output-dir', str(out), '--calibration-images', str(photos),
                 '--calibration-count', '4', '--calibration-min', '1', '--calibration-cache',
                 str(tmp_path / 'cache.json'), '--resize-mode', 'stretch']) == 0
    manifest = read_manifest(out)
    assert [v['name'] for v in manifest['variants']] == ['fp32', 'fp16', 'int8']
    assert manifest['preprocessing']['resize_mode'] == 'stretch'
    for variant in manifest['variants']:
        _session(onnx.load(str(out / variant['path'])))
    capsys.readouterr()
    assert main([str(tmp_path / 'missing.onnx'), '--output-dir', str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'does not exist' in err and 'Traceback' not in err
    (tmp_path / 'empty').mkdir()
    assert main([str(model), '--output-dir', str(tmp_path / 'o2'), '--calibration-images',
                 str(tmp_path / 'empty')]) == 1
    assert 'holds no images' in capsys.readouterr().err
    broken = tmp_path / 'broken'
    broken.mkdir()
    (broken / 'a.png').write_bytes(b'not a png')
    assert main([str(model), '--output-dir', str(tmp_path / 'o3'), '--calibration-images',
                 str(broken), '--resize-mode', 'stretch']) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'no decodable frame' in err
    left = sorted(p.name for p in (tmp_path / 'o3').iterdir())
    assert left == ['legacy_fp16.onnx', 'legacy_fp32.onnx']  # no temp file, no manifest


# -- pruned x precision ---------------------------------------------------------------------
def test_cli_says_what_it_calibrated_on(tmp_path: Path,
                                        capsys: pytest.CaptureFixture) -> None:
    """
    Frames found against asked, held-out frames named, too few refused unless forced.

    Guards issue 16 item 3: the tool once used 6 of 200 asked frames and said nothing, and
    calibrated with default preprocessing without a warning.
    """
    model = make_classifier(tmp_path / 'c.onnx')
    photos = _write_photos(tmp_path / 'photos')  # 5 photos
    out = tmp_path / 'out'
    argv = [str(model), '--output-dir', str(out), '--precisions', 'int8',
            '--calibration-images', str(photos), '--calibration-count', '200']
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert '5 frame(s) found of 200 asked; 4 calibrated, 1 held out' in err
    assert '(frames #5 of the source' in err
    assert "preprocessing comes from the node's defaults" in err and '--params-file' in err
    assert 'fewer than --calibration-min 16' in err and '--force' in err
    assert not (out / 'c_int8.onnx').exists()
    assert main(argv + ['--force', '--params-file', str(REPO / 'config' / 'defaults.yaml')]) \
        == 0
    err = capsys.readouterr().err
    assert "preprocessing comes from the node's defaults" not in err and 'Warning' not in err
    entry = next(v for v in read_manifest(out)['variants'] if v['name'] == 'int8')
    assert entry['options']['calibration_frames'] == 4
    assert entry['options']['calibration_frames_asked'] == 200
    assert entry['options']['held_out_frames'] == [5]


def test_pruned_precision_variants(tmp_path: Path) -> None:
    from accel_ai_ros_tools.tradeoff.levers import model_stats
    model = make_classifier(tmp_path / 'net.onnx')
    out = tmp_path / 'out'
    photos = _write_photos(tmp_path / 'photos')
    common = ['--output-dir', str(out), '--calibration-images', str(photos),
              '--calibration-count', '3', '--calibration-min', '1', '--resize-mode', 'stretch']
    assert main([str(model), '--prune', '2:4', 'magnitude', '--sparsity', '0.6'] + common) == 0
    manifest = read_manifest(out)
    entries = {v['name']: v for v in manifest['variants']}
    assert list(entries) == ['fp32', 'fp16', 'int8', '2:4', '2:4_fp16', '2:4_int8',
                             'magnitude', 'magnitude_fp16', 'magnitude_int8']
    assert entries['2:4_int8']['path'] == 'net_2-4_int8.onnx'
    assert entries['magnitude_fp16']['path'] == 'net_magnitude_fp16.onnx'
    assert entries['fp16']['options']['lever'] == 'precision'
    for name in ('2:4', 'magnitude'):
        for suffix, precision in (('', 'fp32'), ('_fp16', 'fp16'), ('_int8', 'int8')):
            entry = entries[name + suffix]
            assert entry['precision'] == precision
            assert entry['options']['lever'] == 'pruning'
            assert entry['options']['method'] == name
            assert entry['notes'].startswith(f'pruning {name}: ')
            stats = model_stats(out / entry['path'])
            assert stats['nonzero_parameters'] < stats['parameters']  # zeros survive
            _session(onnx.load(str(out / entry['path'])))
    # 2:4 ignores --sparsity, and its notes and options say what it did instead.
    assert 'sparsity' not in entries['2:4']['options']
    assert '0.6' not in entries['2:4']['notes']
    assert entries['magnitude']['options']['sparsity'] == 0.6
    assert entries['magnitude']['options']['weight_sparsity'] == pytest.approx(0.6, abs=0.02)
    # Another run into the same folder adds its variants and keeps the others.
    assert main([str(model), '--precisions', 'fp16', '--prune', 'channel', '--sparsity',
                 '0.5'] + common) == 0
    names = [v['name'] for v in read_manifest(out)['variants']]
    assert {'2:4_int8', 'magnitude', 'channel', 'channel_fp16'} <= set(names)
    assert 'channel_int8' not in names and len(names) == len(set(names))
