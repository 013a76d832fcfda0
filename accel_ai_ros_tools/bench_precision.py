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

"""``benchmark precision``: accuracy against latency for every precision variant.

For each variant x each requested backend that can run here, a fresh process measures
latency p50/p95/p99 and throughput of the node's exact path (``FrameProcessor.process`` on
decoded images) and of bare ``runner.infer``, after a warm-up, and its peak memory; the
outputs on the data set give the accuracy (labelled data) or the agreement with the FP32
reference (no labels). Writes ``report.json``, ``accuracy_vs_latency.png`` and
``accuracy_vs_throughput.png``, prints a table and the recommendation::

    benchmark precision --demo models/demo --dataset digits --min-accuracy 0.95
    benchmark precision --variants out/variants.json --dataset skimage
        --params-file config/face_detector.yaml --output-dir reports/face  (one line)

Variants come from ``--variants variants.json`` (make_variants or demo_train;
repeatable), ``--demo DIR`` (the demo's manifest.json), ``--variant name=path`` (repeatable;
the precision is read from the name), all of them together when their preprocessing agrees,
or, failing those, the ``engines.<precision>`` of ``--params-file``. Each row also records
the file's parameters, non-zero parameters, zlib-compressed size and lever (precision,
pruning, architecture), and the report's ``caveats`` say where zeros cannot be faster.
"""

import argparse
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone
import json
from pathlib import Path
from typing import Any
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple

from accel_ai_ros import params as node_params
from accel_ai_ros.errors import AccelAiError
from accel_ai_ros.errors import collapse_whitespace
from accel_ai_ros.errors import EngineError
from accel_ai_ros.errors import ParameterError
from accel_ai_ros.fileio import sha256_file
from accel_ai_ros.frame_processor import ProcessingSettings
from accel_ai_ros.precision_report import explain
from accel_ai_ros.precision_report import FORMAT
from accel_ai_ros.precision_report import recommend
from accel_ai_ros.precision_report import Report
from accel_ai_ros.precision_report import Row
from accel_ai_ros.precision_report import save_report
from accel_ai_ros.tasks.registry import load_labels
from accel_ai_ros_tools.tradeoff import metrics
from accel_ai_ros_tools.tradeoff.datasets import Dataset
from accel_ai_ros_tools.tradeoff.datasets import load_dataset
from accel_ai_ros_tools.tradeoff.levers import lever_of
from accel_ai_ros_tools.tradeoff.levers import model_stats
from accel_ai_ros_tools.tradeoff.levers import report_caveats
from accel_ai_ros_tools.tradeoff.levers import sparsity_caveat
from accel_ai_ros_tools.tradeoff.measure import Job
from accel_ai_ros_tools.tradeoff.measure import library_versions
from accel_ai_ros_tools.tradeoff.measure import machine_info
from accel_ai_ros_tools.tradeoff.measure import measure_isolated
from accel_ai_ros_tools.tradeoff.table import format_table


@dataclass
class Variant:
    """One model file to measure."""

    name: str
    precision: str
    path: Path
    sha256: str = ''
    notes: str = ''
    lever: str = 'precision'


@dataclass
class Source:
    """Variants plus what their manifest says about preprocessing and the task."""

    variants: List[Variant]
    folder: Path
    values: Dict[str, Any]
    labels_file: str = ''
    kind: str = 'list'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the precision benchmark's options to ``parser``."""
    group = parser.add_argument_group('variants (combine them to put every lever in one '
                                      'study; their preprocessing must agree)')
    group.add_argument('--variants', metavar='VARIANTS_JSON', action='append', default=[],
                       help='variants.json written by make_variants or demo_train; '
                            'repeatable')
    group.add_argument('--demo', metavar='DIR', help='the demo models folder (manifest.json)')
    group.add_argument('--variant', action='append', default=[], metavar='NAME=PATH',
                       help='one model file; repeatable; fp16/int8 in NAME set its precision')
    parser.add_argument('--params-file', help='node parameter file (preprocessing, task, '
                        'labels; engines.* when no variant is given)')
    parser.add_argument('--model-dir', help='folder that relative paths in the params file '
                        "are resolved against (default: model_dir there, else the variants' "
                        'folder)')
    parser.add_argument('--dataset', default='',
                        help='digits, skimage, or a folder (class sub-folders or images); '
                             'default: digits for --demo, else required')
    parser.add_argument('--annotations', help='COCO-style detection annotations (JSON); '
                        '--dataset is then the images folder (default: beside the JSON)')
    parser.add_argument('--class-agnostic', action='store_true',
                        help='mAP ignores class ids (single-class detectors)')
    parser.add_argument('--max-images', type=int, default=0,
                        help='use at most this many images (0: all)')
    parser.add_argument('--backend', default='onnxruntime',
                        help='comma-separated backends to try (onnxruntime,torch,tensorrt); '
                             'those that cannot run here are skipped with the reason')
    parser.add_argument('--threads', type=int, default=None,
                        help="ONNX Runtime intra-op threads (default: the params file's "
                             "intra_op_threads, else ONNX Runtime's choice)")
    parser.add_argument('--warmup', type=int, default=20, help='untimed frames first')
    parser.add_argument('--iterations', type=int, default=200, help='timed frames per loop')
    parser.add_argument('--min-accuracy', type=float, help="the recommendation's floor on "
                        'the accuracy metric (agreement without labels)')
    parser.add_argument('--max-latency', type=float, help="the recommendation's ceiling on "
                        'latency p50, ms')
    parser.add_argument('--output-dir', default='reports/precision',
                        help='where report.json and the plots go (default: %(default)s)')
    parser.add_argument('--no-plots', action='store_true', help='write no PNG')


def sha256_of(path: Path) -> str:
    """Return the SHA-256 hex digest of a file."""
    return sha256_file(path)


def _read_json(path: Path) -> Dict[str, Any]:
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except (OSError, ValueError) as error:
        raise ParameterError(f'cannot read {str(path)!r} ({error})') from None
    if not isinstance(data, dict):
        raise ParameterError(f'{str(path)!r} is not a JSON object')
    return data


def _preprocessing_values(pre: Dict[str, Any]) -> Dict[str, Any]:
    """Map a manifest's preprocessing entry onto node parameter names."""
    values: Dict[str, Any] = {}
    resize = pre.get('resize_mode', pre.get('resize'))
    if resize:
        values['resize_mode'] = str(resize)
    for key in ('channel_order', 'scale', 'mean', 'std', 'pad_value'):
        if key in pre:
            values[key] = pre[key]
    if 'layout' in pre:
        values['tensor_layout'] = str(pre['layout']).lower()
    if 'scale' in values:
        values['scale'] = float(values['scale'])
    for key in ('mean', 'std'):
        if key in values:
            values[key] = [float(v) for v in values[key]]
    return values


def variants_json(path: Path) -> Source:
    """Read make_variants' variants.json (format 1); check every file's SHA-256."""
    data = _read_json(path)
    if data.get('format') != 1 or not isinstance(data.get('variants'), list):
        raise ParameterError(f'{str(path)!r} is not a format-1 variants.json; regenerate it '
                             f'with make_variants')
    variants = []
    for entry in data['variants']:
        file = path.parent / str(entry['path'])
        if not file.is_file():
            raise EngineError(f'variant {entry["name"]!r}: {str(file)!r} is missing; '
                              f're-run make_variants')
        digest = sha256_of(file)
        if entry.get('sha256') and entry['sha256'] != digest:
            raise EngineError(f'variant {entry["name"]!r}: {str(file)!r} changed since '
                              f'variants.json was written (SHA-256 differs); re-run '
                              f'make_variants')
        notes = str(entry.get('notes', ''))
        variants.append(Variant(str(entry['name']), str(entry['precision']), file, digest,
                                notes, lever_of(entry.get('options'), notes)))
    values = _preprocessing_values(dict(data.get('preprocessing') or {}))
    if data.get('task'):
        values['task'] = str(data['task'])
    return Source(variants, path.parent, values, kind='variants.json')


def demo_manifest(folder: Path) -> Source:
    """Read the demo's manifest.json: its three variants, preprocessing and labels."""
    data = _read_json(folder / 'manifest.json')
    variants = []
    for precision, entry in dict(data.get('variants', {})).items():
        file = folder / str(entry['file'])
        if not file.is_file():
            raise EngineError(f'{str(file)!r} is missing; rebuild with make_demo_models')
        notes = f'manifest held-out accuracy {entry.get("held_out_accuracy")}'
        variants.append(Variant(Path(entry['file']).stem, precision, file, sha256_of(file),
                                notes))
    values = _preprocessing_values(dict(data.get('preprocessing') or {}))
    values['task'] = str(data.get('task', 'classification'))
    return Source(variants, folder, values, str(data.get('labels', '')), kind='demo manifest')


def precision_of(name: str) -> str:
    """Guess a variant's precision from its name (fp16, int8, else fp32)."""
    lowered = name.lower()
    for precision in ('int8', 'fp16'):
        if precision in lowered or (precision == 'fp16' and 'half' in lowered):
            return precision
    return 'fp32'


def variant_args(items: Sequence[str]) -> Source:
    """Parse ``name=path`` items."""
    variants = []
    for item in items:
        name, sep, path = item.partition('=')
        if not sep or not name or not path:
            raise ParameterError(f'--variant {item!r}: write it as NAME=PATH, e.g. '
                                 f'fp16=model_fp16.onnx')
        file = Path(path).expanduser()
        if not file.is_file():
            raise EngineError(f'--variant {name}: {path!r} does not exist')
        variants.append(Variant(name, precision_of(name), file, sha256_of(file)))
    return Source(variants, variants[0].path.parent, {})


#: Variant names that say nothing once several models share a report (make_variants').
_GENERIC = ('fp32', 'fp16', 'int8', '2:4', 'magnitude', 'channel')


def merge_sources(sources: Sequence[Source]) -> Source:
    """Join several sources into one; refuse sources whose preprocessing disagrees.

    A variant whose name is already taken, or is only a precision or pruning method
    (make_variants' ``fp16``, ``magnitude_int8``), is renamed after its file
    (``digits_cnn_fp16``), so every row of the report stays distinguishable.
    """
    merged = Source([], sources[0].folder, dict(sources[0].values), sources[0].labels_file,
                    ' + '.join(s.kind for s in sources))
    for source in sources:
        clash = {k for k in source.values.keys() & merged.values.keys()
                 if source.values[k] != merged.values[k]}
        if clash:
            raise ParameterError(f'the variants of {source.kind} disagree with the first '
                                 f'source on {", ".join(sorted(clash))}; measure them in '
                                 f'separate runs')
        merged.values.update(source.values)
        merged.labels_file = merged.labels_file or source.labels_file
        for variant in source.variants:
            taken = {v.name for v in merged.variants}
            generic = len(sources) > 1 and variant.name.split('_')[0] in _GENERIC
            name = variant.path.stem if generic or variant.name in taken else variant.name
            suffix = 2
            while name in taken:
                name, suffix = f'{variant.path.stem}_{suffix}', suffix + 1
            variant.name = name
            merged.variants.append(variant)
    return merged


def resolve_source(args: argparse.Namespace,
                   file_values: Dict[str, Any]) -> Tuple[Source, Dict[str, Any], List[str]]:
    """Return the variants, the merged node parameter values and the labels."""
    model_dir = args.model_dir or str(file_values.get('model_dir', '') or '')
    sources: List[Source] = []
    if args.demo:
        sources.append(demo_manifest(Path(args.demo)))
    sources += [variants_json(Path(path)) for path in args.variants]
    if args.variant:
        sources.append(variant_args(args.variant))
    if sources:
        source = merge_sources(sources)
    else:
        variants = []
        for precision in node_params.configured_precisions(file_values):
            file = node_params.resolve_path(str(file_values[f'engines.{precision}']),
                                            model_dir)
            if not file.is_file():
                raise EngineError(f'engines.{precision}: {str(file)!r} does not exist; '
                                  f'check --model-dir')
            variants.append(Variant(file.stem, precision, file, sha256_of(file)))
        if not variants:
            raise ParameterError('no variant: pass --variants variants.json, --demo DIR, '
                                 '--variant NAME=PATH or a params file with engines.*')
        source = Source(variants, variants[0].path.parent, {})
    values = node_params.defaults()
    values.update(source.values)
    values.update({k: v for k, v in file_values.items() if k in node_params.SPECS})
    labels_file = str(file_values.get('labels_file') or source.labels_file or '')
    labels: List[str] = []
    if labels_file:
        labels = load_labels(str(node_params.resolve_path(
            labels_file, model_dir or str(source.folder))))
    return source, values, labels


def agreement_values(task: str, outputs: Dict[str, Any],
                     reference: Dict[str, Any]) -> Dict[str, Optional[float]]:
    """Return the agreement of one row's outputs with the reference row's outputs."""
    values: Dict[str, Optional[float]] = {}
    if task == 'classification':
        values['top1_agreement'] = metrics.top1_agreement(outputs['ranked'],
                                                          reference['ranked'])
    elif task == 'detection':
        boxes = metrics.box_agreement(outputs['boxes'], reference['boxes'])
        values.update({'box_precision': boxes.precision, 'box_recall': boxes.recall,
                       'box_f1': boxes.f1, 'box_mean_iou': boxes.mean_iou})
    try:
        values['output_cosine'] = metrics.mean_cosine_similarity(outputs['raw'],
                                                                 reference['raw'])
    except ParameterError:
        values['output_cosine'] = None
    return values


def accuracy_values(task: str, dataset: Dataset, outputs: Dict[str, Any],
                    class_agnostic: bool = False) -> Tuple[str, Dict[str, float]]:
    """Return the labelled metric's name and every labelled metric value."""
    if dataset.kind == 'classification' and task == 'classification':
        labels = [int(s.label) for s in dataset.samples if s.label is not None]
        return 'top1', {'top1': metrics.top_k_accuracy(outputs['ranked'], labels, 1),
                        'top5': metrics.top_k_accuracy(outputs['ranked'], labels, 5)}
    if dataset.kind == 'detection' and task == 'detection':
        truth = [s.boxes or [] for s in dataset.samples]
        return 'mAP@0.5', {'mAP@0.5': metrics.mean_average_precision(
            outputs['boxes'], truth, 0.5, class_agnostic)}
    raise ParameterError(f'a {dataset.kind} data set cannot score a {task} model; pass '
                         f'matching labels, or an unlabelled data set for agreement')


AGREEMENT_METRIC = {'classification': 'top1_agreement', 'detection': 'box_f1',
                    'raw': 'output_cosine'}


def _int8_target(path: Path, backend: str) -> Dict[str, Any]:
    """Return the INT8 target a variant records and why it runs off target on ``backend``."""
    import onnx

    from accel_ai_ros.backends.onnxruntime.int8_target import cpu_int8_support
    from accel_ai_ros.backends.onnxruntime.int8_target import INT8_TARGET_KEY
    from accel_ai_ros.backends.onnxruntime.int8_target import target_warning
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # not ONNX (a TensorRT plan): nothing recorded
        return {}
    metadata = {p.key: p.value for p in model.metadata_props}
    if INT8_TARGET_KEY not in metadata:
        return {}
    providers = ['TensorrtExecutionProvider'] if backend == 'tensorrt' else \
        ['CPUExecutionProvider']
    warning = target_warning(metadata, providers, cpu_int8_support())
    return {'int8_target': metadata[INT8_TARGET_KEY],
            **({'int8_target_warning': warning} if warning else {})}


def build_rows(task: str, dataset: Dataset, runs: List[Tuple[Variant, str, Dict[str, Any]]],
               reference: Tuple[Variant, str, Dict[str, Any]],
               class_agnostic: bool = False) -> List[Row]:
    """Turn measured runs into report rows (accuracy, agreement and file contents)."""
    rows = []
    stats: Dict[str, Dict[str, Optional[int]]] = {}
    for variant, backend, out in runs:
        ref = next((r for r in runs if r[0] is reference[0] and r[1] == backend), reference)
        agreement = agreement_values(task, out, ref[2])
        if dataset.labelled:
            metric, values = accuracy_values(task, dataset, out, class_agnostic)
            accuracy: Optional[float] = values[metric]
        else:
            metric, values = AGREEMENT_METRIC[task], {}
            accuracy = agreement[metric]
        row: Row = {
            'variant': variant.name, 'precision': variant.precision, 'backend': backend,
            'lever': variant.lever, 'path': str(variant.path), 'sha256': variant.sha256,
            'size_bytes': variant.path.stat().st_size, 'notes': variant.notes,
            'latency_p50_ms': out['node']['p50'], 'latency_p95_ms': out['node']['p95'],
            'latency_p99_ms': out['node']['p99'], 'throughput_fps': out['node_fps'],
            'infer_p50_ms': out['infer']['p50'], 'infer_p95_ms': out['infer']['p95'],
            'infer_p99_ms': out['infer']['p99'], 'infer_throughput_fps': out['infer_fps'],
            'peak_memory_mb': out['peak_memory_mb'],
            'baseline_memory_mb': out['baseline_memory_mb'],
            'accuracy_metric': metric, 'accuracy': accuracy, 'metrics': values,
            'agreement': agreement, 'reference': f'{ref[0].name} on {ref[1]}',
            'engine': out['engine'],
        }
        row.update(stats.setdefault(str(variant.path), model_stats(variant.path)))
        row['caveat'] = sparsity_caveat(row)
        row.update(_int8_target(variant.path, backend))
        rows.append(row)
    return rows


def run(args: argparse.Namespace) -> int:
    """Measure every variant on every usable backend; write the report and plots."""
    if args.iterations < 1 or args.warmup < 0:
        raise ParameterError('--iterations must be >= 1 and --warmup >= 0')
    file_values = node_params.read_params_file(args.params_file) if args.params_file else {}
    source, values, labels = resolve_source(args, file_values)
    settings = ProcessingSettings.from_params(values, labels=tuple(labels))
    dataset_spec = args.dataset or ('digits' if args.demo else '')
    if not dataset_spec and not args.annotations:
        raise ParameterError('pass --dataset digits|skimage|DIR (or --annotations coco.json)')
    dataset = load_dataset(dataset_spec, args.annotations, labels, args.max_images)
    if not dataset.samples:
        raise ParameterError(f'the data set {dataset.name!r} has no image')
    backends = [b.strip() for b in args.backend.split(',') if b.strip()]
    threads = args.threads if args.threads is not None else \
        int(values.get('intra_op_threads', 0) or 0)
    providers = tuple(values.get('providers') or ('CPUExecutionProvider',))
    images = [s.image for s in dataset.samples]
    print(f'benchmark precision: {len(source.variants)} variant(s) from {source.kind}, '
          f'{dataset.description}; task {settings.task}; backends {", ".join(backends)}; '
          f'{args.warmup} warm-up + {args.iterations} timed frames per loop', flush=True)
    runs: List[Tuple[Variant, str, Dict[str, Any]]] = []
    skipped: List[Dict[str, str]] = []
    for backend in backends:
        for variant in source.variants:
            job = Job(str(variant.path), backend, settings, images, args.warmup,
                      args.iterations, providers, threads)
            try:
                out = measure_isolated(job)
            except AccelAiError as error:
                reason = collapse_whitespace(error)
                skipped.append({'variant': variant.name, 'backend': backend,
                                'reason': reason})
                print(f'  skipped {variant.name} on {backend}: {reason}', flush=True)
                continue
            runs.append((variant, backend, out))
            print(f'  measured {variant.name} on {backend}: p50 {out["node"]["p50"]:.3f} ms',
                  flush=True)
    if not runs:
        raise ParameterError('nothing could be measured: every variant was skipped on every '
                             'backend (see above)')
    reference = next((r for r in runs if r[0].precision == 'fp32'), runs[0])
    rows = build_rows(settings.task, dataset, runs, reference, args.class_agnostic)
    report: Report = {
        'format': FORMAT, 'created': datetime.now(timezone.utc).isoformat(timespec='seconds'),
        'machine': machine_info(), 'versions': library_versions(backends),
        'dataset': dataset.describe(), 'task': settings.task,
        'settings': {'warmup': args.warmup, 'iterations': args.iterations,
                     'intra_op_threads': threads, 'providers': list(providers),
                     'source': source.kind, 'params_file': args.params_file or '',
                     'measured': 'node path: FrameProcessor.process on decoded images '
                                 '(preprocess+infer+decode); infer: bare runner.infer; '
                                 'one fresh process per row'},
        'reference': reference[0].name, 'rows': rows, 'skipped': skipped,
        'caveats': report_caveats(rows),
    }
    best = recommend(report, args.min_accuracy, args.max_latency)
    advice = explain(report, args.min_accuracy, args.max_latency)
    report['recommendation'] = {
        'min_accuracy': args.min_accuracy, 'max_latency_ms': args.max_latency,
        'variant': best['variant'] if best else None,
        'backend': best['backend'] if best else None, 'explanation': advice}
    output_dir = Path(args.output_dir)
    path = save_report(report, output_dir / 'report.json')
    written = [path]
    if not args.no_plots:
        from accel_ai_ros_tools.tradeoff.plots import machine_line
        from accel_ai_ros_tools.tradeoff.plots import write_plots
        written += write_plots(report, output_dir)
        print(f'machine: {machine_line(report)}')
    print(format_table(report))
    print(f'recommendation: {advice}')
    print('wrote ' + ', '.join(str(p) for p in written))
    return 0
