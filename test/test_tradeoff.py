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

"""The accuracy/latency trade-off: metrics on hand-computed cases, report logic, plots, CLI."""

import json
from pathlib import Path
from typing import Any
from typing import Dict
from typing import List
import zlib

import cv2
import numpy as np
import pytest

from accel_ai_ros import precision_report as rep
from accel_ai_ros_tools.tradeoff import metrics
from accel_ai_ros_tools.tradeoff.datasets import coco_dataset
from accel_ai_ros_tools.tradeoff.datasets import folder_dataset
from accel_ai_ros_tools.tradeoff.metrics import BoxLabel

REPO = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


# -- metrics -------------------------------------------------------------------------------
def test_top_k_accuracy_hand_computed():
    ranked = [[1, 2, 3], [0, 1, 2], [2, 0, 1], [3, 1, 0]]
    labels = [1, 1, 1, 1]
    assert metrics.top_k_accuracy(ranked, labels, 1) == 0.25
    assert metrics.top_k_accuracy(ranked, labels, 2) == 0.75
    assert metrics.top_k_accuracy(ranked, labels, 3) == 1.0
    assert metrics.top_k_accuracy([[4]], [4], 5) == 1.0  # shorter than k is fine
    with pytest.raises(metrics.ParameterError):
        metrics.top_k_accuracy(ranked, labels[:2], 1)


def test_top1_agreement():
    assert metrics.top1_agreement([[1, 2], [3], []], [[1, 0], [2], []]) == pytest.approx(2 / 3)


def test_iou_matrix():
    ious = metrics.iou_matrix([(0, 0, 10, 10)], [(0, 0, 10, 5), (5, 0, 15, 10), (20, 20, 30, 30)])
    assert ious[0].tolist() == pytest.approx([0.5, 50 / 150, 0.0])


def _gt(x1: float, y1: float, x2: float, y2: float, c: int = 0, ignore: bool = False):
    return BoxLabel(x1, y1, x2, y2, c, ignore=ignore)


def _det(x1: float, y1: float, x2: float, y2: float, score: float, c: int = 0):
    return BoxLabel(x1, y1, x2, y2, c, score)


def test_map_101_point_hand_computed():
    # Class 0: 3 ground-truth boxes over 2 images; detections in score order TP, FP, TP and
    # one box never found. precision 1, 1/2, 2/3 at recall 1/3, 1/3, 2/3; the envelope is
    # 1, 2/3, 2/3, so recall points 0.00..0.33 (34) give 1, 0.34..0.66 (33) give 2/3 and
    # 0.67..1.00 give 0: AP = (34 + 33 * 2/3) / 101 = 56/101.
    truth = [[_gt(0, 0, 10, 10), _gt(20, 20, 30, 30)], [_gt(0, 0, 10, 10),
                                                        _gt(50, 50, 60, 60, c=1)]]
    predictions = [
        [_det(0, 0, 10, 10, 0.9), _det(100, 100, 110, 110, 0.8)],
        [_det(1, 0, 10, 10, 0.7), _det(50, 50, 60, 60, 0.6, c=1)],
    ]
    per_class = metrics.average_precision_per_class(predictions, truth)
    assert per_class[0] == pytest.approx(56 / 101)
    assert per_class[1] == pytest.approx(1.0)
    assert metrics.mean_average_precision(predictions, truth) == pytest.approx(
        (56 / 101 + 1.0) / 2)
    # Class-agnostic: 4 boxes; TP .9, FP .8, TP .7, TP .6 -> precision 1, .5, .667, .75 at
    # recall .25, .25, .5, .75; envelope .75 beyond recall .25: 26 points of 1, 50 of .75.
    assert metrics.mean_average_precision(predictions, truth, class_agnostic=True) == \
        pytest.approx((26 + 50 * 0.75) / 101)


def test_map_duplicates_and_crowd():
    truth = [[_gt(0, 0, 10, 10), _gt(40, 40, 80, 80, ignore=True)]]
    # A duplicate of a matched box is a false positive; a box on a crowd region is ignored.
    predictions = [[_det(0, 0, 10, 10, 0.9), _det(0, 0, 10, 10, 0.8),
                    _det(40, 40, 80, 80, 0.95)]]
    # Ranked: (crowd, ignored), TP, FP -> precision 1 at recall 1: AP 1.
    assert metrics.mean_average_precision(predictions, truth) == pytest.approx(1.0)
    assert metrics.mean_average_precision([[]], [[_gt(0, 0, 1, 1)]]) == 0.0
    with pytest.raises(metrics.ParameterError):
        metrics.mean_average_precision([[]], [[]])


def test_box_agreement_hand_computed():
    reference = [[_gt(0, 0, 10, 10), _gt(20, 20, 30, 30)], []]
    predictions = [[_det(0, 0, 10, 5, 0.9), _det(50, 50, 60, 60, 0.8)], []]
    agreement = metrics.box_agreement(predictions, reference)
    assert (agreement.matched, agreement.predicted, agreement.reference) == (1, 2, 2)
    assert agreement.precision == 0.5 and agreement.recall == 0.5 and agreement.f1 == 0.5
    assert agreement.mean_iou == pytest.approx(0.5)
    # Another class never matches; identical sets agree fully.
    other = metrics.box_agreement([[_det(0, 0, 10, 10, 0.9, c=1)]], [[_gt(0, 0, 10, 10)]])
    assert other.matched == 0 and other.f1 == 0.0 and other.mean_iou is None
    same = metrics.box_agreement(reference, reference)
    assert same.f1 == 1.0 and same.mean_iou == pytest.approx(1.0)
    empty = metrics.box_agreement([[]], [[]])
    assert empty.precision == empty.recall == 1.0


def test_cosine_similarity():
    assert metrics.cosine_similarity(np.array([1.0, 0.0]), np.array([1.0, 1.0])) == \
        pytest.approx(1 / np.sqrt(2))
    assert metrics.cosine_similarity(np.zeros(3), np.zeros(3)) == 1.0
    assert metrics.cosine_similarity(np.zeros(3), np.ones(3)) == 0.0
    assert metrics.mean_cosine_similarity([np.ones(2), np.array([1.0, 0.0])],
                                          [np.ones(2), np.array([0.0, 1.0])]) == pytest.approx(0.5)
    with pytest.raises(metrics.ParameterError):
        metrics.cosine_similarity(np.ones(2), np.ones(3))


# -- report: Pareto front, recommendation, round trip --------------------------------------
def _row(variant: str, precision: str, latency: float, accuracy: Any, size: int = 1000,
         backend: str = 'onnxruntime') -> Dict[str, Any]:
    return {
        'variant': variant, 'precision': precision, 'backend': backend,
        'path': f'{variant}.onnx', 'size_bytes': size, 'latency_p50_ms': latency,
        'latency_p95_ms': latency * 1.2, 'latency_p99_ms': latency * 1.5,
        'throughput_fps': 1000.0 / latency, 'infer_p50_ms': latency / 2,
        'infer_p95_ms': latency * 0.6, 'infer_p99_ms': latency * 0.7,
        'infer_throughput_fps': 2000.0 / latency, 'peak_memory_mb': 100.0,
        'baseline_memory_mb': 90.0, 'accuracy_metric': 'top1', 'accuracy': accuracy,
        'metrics': {'top1': accuracy}, 'agreement': {'top1_agreement': 1.0},
    }


def _report(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {'format': rep.FORMAT, 'created': '2026-01-01T00:00:00+00:00',
            'machine': {'cpu_model': 'Test CPU', 'cores': 2, 'gpu': None},
            'versions': {'onnxruntime': 'x'}, 'dataset': {'name': 'hand-made'},
            'task': 'classification', 'settings': {}, 'reference': 'fp32', 'rows': rows,
            'skipped': []}


@pytest.fixture
def hand_report() -> Dict[str, Any]:
    return _report([_row('fp32', 'fp32', 2.0, 0.97), _row('fp16', 'fp16', 1.5, 0.97),
                    _row('int8', 'int8', 1.0, 0.90), _row('bad', 'int8', 3.0, 0.80)])


def test_pareto_front(hand_report):
    front = rep.pareto_front(hand_report['rows'])
    assert [r['variant'] for r in front] == ['int8', 'fp16']
    front_fps = rep.pareto_front(hand_report['rows'], x='throughput_fps')
    assert [r['variant'] for r in front_fps] == ['int8', 'fp16']
    tie = rep.pareto_front([_row('a', 'fp32', 1.0, 0.9), _row('b', 'fp16', 1.0, 0.9),
                            _row('c', 'int8', 1.0, None)])
    assert sorted(r['variant'] for r in tie) == ['a', 'b']


def _chosen(report: Dict[str, Any], **limits: Any) -> str:
    row = rep.recommend(report, **limits)
    assert row is not None
    return str(row['variant'])


def test_recommend_and_explain(hand_report):
    assert _chosen(hand_report) == 'int8'
    assert _chosen(hand_report, min_accuracy=0.95) == 'fp16'
    assert _chosen(hand_report, max_latency_ms=1.2) == 'int8'
    assert 'fp16' in rep.explain(hand_report, min_accuracy=0.95)
    assert rep.recommend(hand_report, min_accuracy=0.95, max_latency_ms=1.2) is None
    why = rep.explain(hand_report, min_accuracy=0.95, max_latency_ms=1.2)
    assert why.startswith('none qualifies') and 'fp16' in why and '1.500 ms > 1.2 ms' in why
    assert rep.recommend(hand_report, min_accuracy=0.99) is None
    why = rep.explain(hand_report, min_accuracy=0.99)
    assert 'reaches top1 0.9700 < 0.99' in why
    assert rep.recommend(hand_report, backend='tensorrt') is None
    assert 'no row on tensorrt' in rep.explain(hand_report, backend='tensorrt')
    # A row without accuracy never meets a floor.
    assert rep.recommend(_report([_row('x', 'fp32', 1.0, None)]), min_accuracy=0.1) is None


def test_recommend_ties():
    rows = [_row('big', 'fp32', 1.0, 0.9, size=2000), _row('small', 'fp16', 1.0, 0.9, size=10),
            _row('better', 'int8', 1.0, 0.95, size=5000)]
    assert _chosen(_report(rows)) == 'better'
    assert _chosen(_report(rows[:2])) == 'small'


def test_accuracy_for(hand_report):
    assert rep.accuracy_for(hand_report, 'fp16') == 0.97
    assert rep.accuracy_for(hand_report, 'int8') == 0.90  # named like the precision wins
    assert rep.accuracy_for(hand_report, 'fp16', backend='tensorrt') is None
    assert rep.accuracy_for(hand_report, 'fp8') is None


def test_report_round_trip(tmp_path, hand_report):
    path = rep.save_report(hand_report, tmp_path / 'sub' / 'report.json')
    assert rep.load_report(path) == hand_report
    assert [p.name for p in path.parent.iterdir()] == ['report.json']  # no temp file left
    broken = dict(hand_report, rows=[{k: v for k, v in hand_report['rows'][0].items()
                                      if k != 'accuracy'}])
    with pytest.raises(rep.ReportError, match='accuracy'):
        rep.save_report(broken, tmp_path / 'broken.json')
    (tmp_path / 'bad.json').write_text('{"format": 1', encoding='utf-8')
    with pytest.raises(rep.ReportError):
        rep.load_report(tmp_path / 'bad.json')
    with pytest.raises(rep.ReportError):
        rep.load_report(tmp_path / 'absent.json')


def test_plots_written(tmp_path, hand_report):
    pytest.importorskip('matplotlib')
    from accel_ai_ros_tools.tradeoff.plots import write_plots
    paths = write_plots(hand_report, tmp_path)
    assert [p.name for p in paths] == ['accuracy_vs_latency.png', 'accuracy_vs_throughput.png']
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 1024


# -- data sets -----------------------------------------------------------------------------
def test_folder_and_coco_datasets(tmp_path):
    image = np.full((12, 16, 3), 200, dtype=np.uint8)
    for name in ('cat', 'dog'):
        (tmp_path / 'cls' / name).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / 'cls' / name / 'a.png'), image)
    data = folder_dataset(tmp_path / 'cls', labels=['dog', 'cat'])
    assert data.kind == 'classification'
    assert sorted((s.name, s.label) for s in data.samples) == [('cat/a.png', 1),
                                                               ('dog/a.png', 0)]
    assert folder_dataset(tmp_path / 'cls').samples[0].label == 0  # sorted folder order
    cv2.imwrite(str(tmp_path / 'img.png'), image)
    coco = {'images': [{'id': 7, 'file_name': 'img.png', 'width': 16, 'height': 12}],
            'annotations': [{'id': 1, 'image_id': 7, 'bbox': [1, 2, 3, 4], 'category_id': 3,
                             'iscrowd': 0}],
            'categories': [{'id': 3, 'name': 'face'}]}
    (tmp_path / 'coco.json').write_text(json.dumps(coco), encoding='utf-8')
    det = coco_dataset(tmp_path / 'coco.json', labels=['background', 'face'])
    assert det.kind == 'detection' and det.samples[0].image.order == 'bgr'
    assert det.samples[0].boxes == [BoxLabel(1.0, 2.0, 4.0, 6.0, 1)]
    assert coco_dataset(tmp_path / 'coco.json').samples[0].boxes == [
        BoxLabel(1.0, 2.0, 4.0, 6.0, 3)]


# -- the command, end to end ---------------------------------------------------------------
def _bench(argv: List[str]) -> int:
    from accel_ai_ros_tools.bench import main
    return main(['precision'] + argv)


def test_precision_command_on_demo_models(tmp_path, capsys):
    pytest.importorskip('sklearn')
    pytest.importorskip('onnxconverter_common')
    pytest.importorskip('onnxruntime')
    pytest.importorskip('matplotlib')
    from accel_ai_ros_tools.demo_models import build_demo_models
    manifest = build_demo_models(tmp_path / 'demo')
    out = tmp_path / 'report'
    assert _bench(['--demo', str(tmp_path / 'demo'), '--warmup', '2', '--iterations', '10',
                   '--min-accuracy', '0.95', '--output-dir', str(out)]) == 0
    printed = capsys.readouterr().out
    assert 'recommendation: ' in printed and 'p50 ms' in printed
    report = rep.load_report(out / 'report.json')
    assert {r['precision'] for r in report['rows']} == {'fp32', 'fp16', 'int8'}
    for row in report['rows']:
        rep.check_row(row)
        assert row['accuracy_metric'] == 'top1'
        expected = manifest['variants'][row['precision']]
        assert row['accuracy'] == pytest.approx(expected['held_out_accuracy'], abs=5e-5)
        assert row['agreement']['top1_agreement'] == pytest.approx(
            expected['top1_agreement_with_fp32'], abs=5e-5)
        assert 0 < row['latency_p50_ms'] <= row['latency_p95_ms'] <= row['latency_p99_ms']
        assert row['peak_memory_mb'] > row['baseline_memory_mb'] > 0
        # the demo's INT8 is the cpu target made for this CPU: on target, no warning
        assert row.get('int8_target') == ('cpu' if row['precision'] == 'int8' else None)
        assert 'int8_target_warning' not in row
    assert report['dataset']['images'] == manifest['split']['held_out_size']
    assert report['machine']['cores'] >= 1 and report['versions']['onnxruntime']
    for name in ('accuracy_vs_latency.png', 'accuracy_vs_throughput.png'):
        assert (out / name).read_bytes().startswith(PNG_SIGNATURE)


def test_precision_command_detector_agreement(tmp_path, face_model):
    pytest.importorskip('onnxruntime')
    pytest.importorskip('skimage')
    out = tmp_path / 'face'
    assert _bench(['--variant', f'fp32={face_model}', '--params-file',
                   str(REPO / 'config' / 'face_detector.yaml'), '--dataset', 'skimage',
                   '--max-images', '4', '--warmup', '1', '--iterations', '4', '--no-plots',
                   '--output-dir', str(out)]) == 0
    row = rep.load_report(out / 'report.json')['rows'][0]
    assert row['accuracy_metric'] == 'box_f1' and row['accuracy'] == 1.0
    assert row['agreement']['output_cosine'] == pytest.approx(1.0)


def test_precision_command_errors(tmp_path, capsys):
    assert _bench(['--variant', f'fp16={tmp_path / "absent.onnx"}', '--dataset', 'digits',
                   '--output-dir', str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'does not exist' in err[0]
    assert _bench(['--variant', 'no-equals-sign', '--output-dir', str(tmp_path)]) == 1


# -- levers: parameters, zeros, compressed size, caveats, lever-marked plots -------------------
def _sparse_model(path: Path) -> Path:
    """Gemm weight [4, 8] with 20 zeros, bias [4] with 1, an INT8 DQ weight with 2, a shape."""
    import onnx
    from onnx import helper
    from onnx import numpy_helper
    from onnx import TensorProto

    from accel_ai_ros_tools.variants.onnx_fixes import with_min_ir_version
    weight = np.arange(1, 33, dtype=np.float32).reshape(4, 8)
    weight.flat[:20] = 0.0
    bias = np.array([0.0, 1.0, 2.0, 3.0], dtype=np.float32)
    q_weight = np.array([[0, 3], [0, -2]], dtype=np.int8)
    inits = [numpy_helper.from_array(weight, 'w'), numpy_helper.from_array(bias, 'b'),
             numpy_helper.from_array(q_weight, 'qw'),
             numpy_helper.from_array(np.array(0.5, dtype=np.float32), 'qs'),
             numpy_helper.from_array(np.array(0, dtype=np.int8), 'qz'),
             numpy_helper.from_array(np.array([1, 4], dtype=np.int64), 'shape')]
    nodes = [helper.make_node('Gemm', ['x', 'w', 'b'], ['y'], transB=1),
             helper.make_node('Reshape', ['y', 'shape'], ['r']),
             helper.make_node('DequantizeLinear', ['qw', 'qs', 'qz'], ['dq']),
             helper.make_node('Identity', ['dq'], ['z'])]
    graph = helper.make_graph(
        nodes, 'sparse', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info('r', TensorProto.FLOAT, [1, 4]),
         helper.make_tensor_value_info('z', TensorProto.FLOAT, [2, 2])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    onnx.save(with_min_ir_version(model), str(path))
    return path


def test_model_stats_counts_weights_zeros_and_compressed_size(tmp_path):
    from accel_ai_ros_tools.tradeoff.levers import model_stats
    path = _sparse_model(tmp_path / 'sparse.onnx')
    stats = model_stats(path)
    # w 32 + b 4 + qw 4; the quantization scale and zero point and the shape are left out.
    assert stats['parameters'] == 40
    assert stats['nonzero_parameters'] == 40 - 20 - 1 - 2
    assert stats['size_compressed_bytes'] == len(zlib.compress(path.read_bytes(), 9))
    assert stats['size_compressed_bytes'] < path.stat().st_size
    blob = tmp_path / 'engine.plan'
    blob.write_bytes(b'\0' * 4096)
    assert model_stats(blob) == {'parameters': None, 'nonzero_parameters': None,
                                 'size_compressed_bytes': len(zlib.compress(b'\0' * 4096, 9))}


def test_lever_of_manifest_entries():
    from accel_ai_ros_tools.tradeoff.levers import lever_of
    assert lever_of({'lever': 'architecture', 'method': 'channel'}) == 'architecture'
    assert lever_of({'architecture': 'cnn', 'pruning': '2:4'}) == 'pruning'
    assert lever_of({'architecture': 'dwsep', 'pruning': None}) == 'architecture'
    assert lever_of({'method': 'magnitude', 'sparsity': 0.5}) == 'pruning'
    assert lever_of({}, 'pruned with 2:4 to sparsity 0.5') == 'pruning'
    assert lever_of({'opset': 17}) == 'precision' and lever_of(None) == 'precision'


def _lever_rows() -> List[Dict[str, Any]]:
    rows = [_row('fp32', 'fp32', 2.0, 0.97), _row('int8', 'int8', 1.0, 0.96),
            _row('mag50', 'fp32', 2.0, 0.96), _row('mag50_int8', 'int8', 1.0, 0.95),
            _row('channel', 'fp32', 1.2, 0.95), _row('dwsep', 'fp32', 0.8, 0.94)]
    for row, lever, nonzero in zip(rows, ['precision', 'precision', 'pruning', 'pruning',
                                          'pruning', 'architecture'],
                                   [100, 93, 50, 50, 100, 100]):
        row.update(lever=lever, parameters=100, nonzero_parameters=nonzero,
                   size_compressed_bytes=600, caveat='')
    return rows


def test_optional_row_fields_old_and_new_reports(tmp_path, hand_report):
    rep.check_report(hand_report)  # rows without the optional fields still load
    from accel_ai_ros_tools.tradeoff.table import format_table
    assert 'n/a' in format_table(hand_report) and '!' not in format_table(hand_report)
    report = _report(_lever_rows())
    path = rep.save_report(report, tmp_path / 'report.json')
    assert rep.load_report(path)['rows'][2]['nonzero_parameters'] == 50
    bad = _report([dict(_lever_rows()[0], parameters='100')])
    with pytest.raises(rep.ReportError, match='parameters'):
        rep.check_report(bad)
    with pytest.raises(rep.ReportError, match='caveats'):
        rep.check_report(dict(report, caveats='none'))


def test_caveats_name_int8_variants_run_off_target():
    """A TensorRT-target INT8 row measured on ONNX Runtime's CPU kernels says so."""
    from accel_ai_ros_tools.tradeoff.levers import report_caveats
    rows = [dict(r, int8_target_warning='INT8 model made for TensorRT ... --int8-target cpu')
            if r['variant'] == 'mag50_int8' else r for r in _lever_rows()]
    caveats = report_caveats(rows)
    assert caveats[0].startswith('mag50_int8 on onnxruntime: INT8 model made for TensorRT')


def test_caveats_name_the_dense_zero_rows():
    from accel_ai_ros_tools.tradeoff.levers import report_caveats
    from accel_ai_ros_tools.tradeoff.levers import sparsity_caveat
    from accel_ai_ros_tools.tradeoff.table import format_table
    rows = _lever_rows()
    assert [bool(sparsity_caveat(r)) for r in rows] == [False, False, True, True, False,
                                                        False]  # INT8 rounding: 7 % zero
    assert sparsity_caveat(dict(rows[2], backend='tensorrt')) == ''
    caveats = report_caveats(rows)
    assert 'mag50, mag50_int8' in caveats[0] and 'cannot be faster' in caveats[0]
    assert 'zlib level 9' in caveats[1]
    table = format_table(_report(rows)).splitlines()
    marks = [line[:3].strip() for line in table[1:7]]
    assert [m.replace('*', '') for m in marks] == ['', '', '!', '!', '', '']
    assert any(line.startswith('note: onnxruntime') for line in table)
    assert 'pruning' in table[3] and '50.0%' in table[3]


def test_plots_mark_levers(tmp_path):
    pytest.importorskip('matplotlib')
    from accel_ai_ros_tools.tradeoff.plots import _legend
    from accel_ai_ros_tools.tradeoff.plots import write_plots
    rows = _lever_rows()
    labels = [h.get_label() for h in _legend(rows, True, True)]
    assert labels == ['lever: precision', 'lever: pruning', 'lever: architecture', 'fp32',
                      'int8', 'Pareto front (ringed, dashed)', 'zeros run densely']
    for path in write_plots(_report(rows), tmp_path):
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 1024


def test_several_manifests_merge_with_distinct_names(tmp_path):
    from accel_ai_ros.errors import ParameterError
    from accel_ai_ros_tools import bench_precision as bp

    def manifest(folder: str, names: List[str], scale: float) -> Path:
        root = tmp_path / folder
        root.mkdir()
        entries = []
        for name in names:
            (root / f'{folder}_{name}.onnx').write_bytes(name.encode())
            entries.append({'name': name, 'precision': bp.precision_of(name),
                            'path': f'{folder}_{name}.onnx', 'options': {'method': 'magnitude'}
                            if 'magnitude' in name else {}})
        (root / 'variants.json').write_text(json.dumps(
            {'format': 1, 'preprocessing': {'scale': scale}, 'variants': entries}))
        return root / 'variants.json'

    first = bp.variants_json(manifest('cnn', ['fp32', 'magnitude_int8'], 1.0))
    second = bp.variants_json(manifest('mlp', ['fp32', 'mlp_only'], 1.0))
    merged = bp.merge_sources([first, second])
    assert [v.name for v in merged.variants] == ['cnn_fp32', 'cnn_magnitude_int8',
                                                 'mlp_fp32', 'mlp_only']
    assert [v.lever for v in merged.variants] == ['precision', 'pruning', 'precision',
                                                  'precision']
    other = bp.variants_json(manifest('odd', ['fp16'], 2.0))
    with pytest.raises(ParameterError, match='disagree'):
        bp.merge_sources([bp.variants_json(tmp_path / 'cnn' / 'variants.json'), other])
