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

"""``make_variants``: FP32, FP16, INT8 (and pruned) ONNX variants of one model.

Writes ``<stem>_fp32.onnx`` (the fixed-up FP32 model), ``<stem>_fp16.onnx``,
``<stem>_int8.onnx``, optional pruned ``<stem>_<method>.onnx`` files with their own FP16
and INT8 conversions (``<stem>_<method>_fp16.onnx``, ``<stem>_<method>_int8.onnx``: zeros
stay zero in both, so 2:4 and magnitude patterns survive) and ``variants.json`` into the
output folder; every file appears atomically, the manifest last. Each entry's options record
its ``lever`` ('precision', 'pruning' or 'architecture') for the trade-off study; pruned
entries also carry the pruning method and ``sparsity_report`` figures. INT8 calibration
preprocesses frames exactly as the node does, from the node's parameter file
(``--params-file``) or the options below.
"""

import argparse
from pathlib import Path
import re
import sys
import tempfile
from typing import Any
from typing import Callable
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple

from accel_ai_ros.errors import AccelAiError
from accel_ai_ros.errors import collapse_whitespace
from accel_ai_ros.fileio import atomic_output
from accel_ai_ros.fileio import atomic_write
from accel_ai_ros.params import defaults
from accel_ai_ros.params import PRECISIONS
from accel_ai_ros.params import values_from_file
from accel_ai_ros.tasks.registry import TASK_NAMES

PROG = 'make_variants'
_SOURCES = (('calibration_images', 'images'), ('calibration_video', 'video'),
            ('calibration_bag', 'bag'), ('calibration_topic', 'topic'))


def _csv(text: str) -> List[str]:
    return [part.strip() for part in text.split(',') if part.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description='Write FP32, FP16 and INT8 (QDQ) ONNX variants of a model and '
                               'the variants.json manifest the trade-off benchmark reads.')
    parser.add_argument('model', help='the FP32 ONNX model')
    parser.add_argument('--output-dir', required=True, help='folder for the variants')
    parser.add_argument('--precisions', default='fp16,int8',
                        help='comma-separated precisions besides fp32 (default: %(default)s)')
    parser.add_argument('--params-file', help="the node's ROS parameter YAML: preprocessing "
                        'and task are read from it')
    parser.add_argument('--task', choices=TASK_NAMES, help='task recorded in the manifest')
    pre = parser.add_argument_group('preprocessing (override the parameter file)')
    pre.add_argument('--resize-mode', choices=('stretch', 'letterbox', 'center_crop'))
    pre.add_argument('--channel-order', choices=('rgb', 'bgr', 'mono'))
    pre.add_argument('--scale', type=float)
    pre.add_argument('--mean', type=float, nargs='+')
    pre.add_argument('--std', type=float, nargs='+')
    pre.add_argument('--pad-value', type=int)
    pre.add_argument('--layout', choices=('auto', 'nchw', 'nhwc'))
    cal = parser.add_argument_group('INT8 calibration')
    sources = cal.add_mutually_exclusive_group()
    sources.add_argument('--calibration-images', help='folder of images')
    sources.add_argument('--calibration-video', help='video file')
    sources.add_argument('--calibration-bag', help='rosbag2 folder')
    sources.add_argument('--calibration-topic', help='live image topic')
    cal.add_argument('--calibration-count', type=int, default=200,
                     help='frames to calibrate on (default: %(default)s)')
    cal.add_argument('--calibration-method', default='percentile',
                     choices=('minmax', 'entropy', 'percentile'),
                     help='range method (default: %(default)s, the closest to FP32 measured '
                          'on the face detector)')
    cal.add_argument('--percentile', type=float, default=99.999)
    cal.add_argument('--calibration-cache', help='JSON file of activation ranges, reused by '
                     'the next run with the same model, method and preprocessing')
    cal.add_argument('--calibration-timeout', type=float, default=30.0,
                     help='seconds to wait for topic frames (default: %(default)s)')
    cal.add_argument('--int8-target', choices=('tensorrt', 'cpu'), default='tensorrt',
                     help='what the INT8 model is made for: tensorrt (symmetric int8 Q/DQ as '
                          "TensorRT fuses it) or cpu (ONNX Runtime's CPU kernels: uint8 "
                          'activations, int8 weights) (default: %(default)s)')
    cal.add_argument('--int8-format', choices=('qdq', 'qoperator'), default='qdq',
                     help="cpu target: Q/DQ pairs, or ONNX Runtime's QLinear operators; "
                          'neither was consistently faster in docs/precision.md '
                          '(default: %(default)s)')
    cal.add_argument('--int8-quantizer', choices=('auto', 'onnxruntime', 'modelopt'),
                     default='auto',
                     help='who places Q/DQ for the tensorrt target: NVIDIA Model Optimizer '
                          '(minmax or entropy calibration, no mixed-precision search) or ONNX '
                          "Runtime's quantizer; auto takes modelopt where it is importable and "
                          'the method allows (default: %(default)s)')
    cal.add_argument('--int8-reduce-range', choices=('auto', 'on', 'off'), default='auto',
                     help='cpu target: 7-bit weights, which CPUs without VNNI need to avoid '
                          "saturation; auto reads this CPU's flags, so give on when the "
                          'model will run on another CPU without VNNI (default: %(default)s)')
    cal.add_argument('--calibration-min', type=int, default=16,
                     help='refuse to calibrate on fewer frames than this (default: '
                          '%(default)s)')
    cal.add_argument('--force', action='store_true',
                     help='accept fewer calibration frames than --calibration-min')
    cal.add_argument('--holdout-every', type=int, default=5,
                     help='keep every k-th frame out of calibration for the accuracy check '
                          'against FP32; 0 holds none out (default: %(default)s)')
    cal.add_argument('--int8-tolerance', type=float,
                     help='INT8 loss against FP32 tolerated on the held-out frames before '
                          'layers are kept in float (default: 0.02 box F1 at IoU 0.5 for '
                          'detection, 0.01 top-1 agreement for classification)')
    cal.add_argument('--no-mixed-precision', action='store_true',
                     help='quantize every layer, whatever the held-out loss')
    cal.add_argument('--int8-exclude-nodes', type=_csv, default=[],
                     help='comma-separated node names to keep in float')
    cal.add_argument('--int8-op-types', type=_csv,
                     help='comma-separated operator types to quantize (default: Conv, '
                          'ConvTranspose, Gemm, MatMul)')
    triton = parser.add_argument_group('Triton model repository (docs/triton.md)')
    triton.add_argument('--triton-repo', metavar='DIR',
                        help='also write every variant as DIR/<model>_<precision>/1/model.onnx '
                             'with a config.pbtxt, for tritonserver --model-repository DIR')
    triton.add_argument('--triton-kind', choices=('onnxruntime', 'tensorrt', 'python'),
                        default='onnxruntime',
                        help="onnxruntime: Triton's ONNX Runtime backend; tensorrt: ONNX "
                             'Runtime with the TensorRT accelerator (FP16 for fp16/int8), built '
                             "on the server's GPU; python: the Python backend running ONNX "
                             'Runtime (servers without those backends) (default: %(default)s)')
    triton.add_argument('--triton-name', default='',
                        help='model names are <name>_<precision> (default: the ONNX file name)')
    triton.add_argument('--triton-instances', type=int, default=1,
                        help='model instances per GPU (default: %(default)s)')
    triton.add_argument('--triton-max-batch', type=int, default=8,
                        help='largest batch the server forms for models with a dynamic batch '
                             'dimension (default: %(default)s)')
    parser.add_argument('--fp16-block-ops', type=_csv,
                        help='comma-separated operator types kept in FP32 in the FP16 model')
    parser.add_argument('--opset', type=int, default=17,
                        help='opset older models are upgraded to (default: %(default)s)')
    parser.add_argument('--prune', nargs='+', metavar='METHOD', default=[],
                        help='also write pruned variants with these methods (2:4, magnitude, '
                             'channel), in FP32 and in each of --precisions')
    parser.add_argument('--sparsity', type=float, default=0.5,
                        help='sparsity of the pruned variants; ignored by 2:4, which always '
                             'zeroes 2 of 4 (default: %(default)s)')
    parser.add_argument('--lever', choices=('precision', 'pruning', 'architecture'),
                        help='the lever the source model itself stands for in the trade-off '
                             'study (default: pruning when it carries pruning notes, else '
                             'precision)')
    return parser


def _overrides(args: argparse.Namespace) -> Dict[str, Any]:
    """Return the preprocessing options given on the command line."""
    given = {'resize_mode': args.resize_mode, 'channel_order': args.channel_order,
             'scale': args.scale, 'mean': args.mean, 'std': args.std,
             'pad_value': args.pad_value, 'tensor_layout': args.layout}
    return {k: v for k, v in given.items() if v is not None}


def _values(args: argparse.Namespace) -> Dict[str, Any]:
    values = values_from_file(args.params_file) if args.params_file else defaults()
    values.update(_overrides(args))
    if args.task is not None:
        values['task'] = args.task
    return values


def _pruning() -> Any:
    try:
        from accel_ai_ros_tools.variants import pruning
    except ImportError as exc:
        raise AccelAiError(f'--prune is not available: accel_ai_ros_tools.variants.pruning cannot '
                           f'be imported ({exc}); update accel_ai_ros or drop --prune') from None
    return pruning


def run(args: argparse.Namespace) -> Path:
    """Write the variants and the manifest; return the manifest's path."""
    import onnx

    from accel_ai_ros_tools.variants import calibration
    from accel_ai_ros_tools.variants import manifest as mf
    from accel_ai_ros_tools.variants import VariantError
    from accel_ai_ros_tools.variants.onnx_fixes import input_names
    from accel_ai_ros_tools.variants.onnx_fixes import prepare_model

    model_path = Path(args.model).expanduser()
    if not model_path.is_file():
        raise VariantError(f'model {model_path} does not exist; give an FP32 .onnx file')
    precisions = _csv(args.precisions)
    unknown = [p for p in precisions if p not in PRECISIONS]
    if unknown:
        raise VariantError(f'precision {", ".join(unknown)} is unknown; use fp16, int8')
    pruning = _pruning() if args.prune else None
    if pruning is not None:
        bad = [m for m in args.prune if m not in pruning.PRUNE_METHODS]
        if bad:
            raise VariantError(f'pruning method {", ".join(bad)} is unknown; use one of '
                               f'{", ".join(pruning.PRUNE_METHODS)}')
    try:
        model = onnx.load(str(model_path))
    except Exception as exc:  # protobuf's DecodeError and friends
        raise VariantError(f'{model_path} is not a readable ONNX model ({exc})') from None
    values = _values(args)
    if 'int8' in precisions and not args.params_file and not _overrides(args):
        _say("warning: preprocessing comes from the node's defaults (resize "
             f"{values['resize_mode']}, {values['channel_order']}, scale {values['scale']:g}, "
             f"mean {values['mean']}, std {values['std']}), not from a parameter file: INT8 "
             'ranges are right only if the node runs with the same values; give --params-file')
    names = input_names(model)
    if len(names) != 1:
        raise VariantError(f'the model has {len(names)} inputs ({", ".join(names)}); '
                           f'variants are made for single-image models')
    value = next(v for v in model.graph.input if v.name == names[0])
    tensor = value.type.tensor_type
    shape = [d.dim_value if d.HasField('dim_value') else (d.dim_param or None)
             for d in tensor.shape.dim]
    dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type)
    spec = calibration.spec_from_params(values, shape, dtype)
    frames = None
    if 'int8' in precisions:
        chosen = [(kind, getattr(args, attr)) for attr, kind in _SOURCES if getattr(args, attr)]
        if chosen:
            frames = calibration.open_source(chosen[0][0], chosen[0][1],
                                             args.calibration_count, args.calibration_timeout)
        elif not args.calibration_cache:
            raise VariantError('int8 needs calibration frames: give --calibration-images, '
                               '--calibration-video, --calibration-bag or --calibration-topic '
                               '(or drop int8 from --precisions)')
    out_dir = Path(args.output_dir).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = model_path.stem
    manifest = _kept_manifest(out_dir, mf.new_manifest(
        model_path, calibration.preprocessing_dict(spec), str(values.get('task', 'raw'))))
    fixed = prepare_model(model, target_opset=args.opset)
    lever = args.lever or _source_lever(fixed)
    fp32_path = atomic_write(out_dir / f'{stem}_fp32.onnx', fixed.SerializeToString())
    mf.add_variant(manifest, out_dir, 'fp32', 'fp32', fp32_path,
                   notes='the source model after the ONNX fixes (no initializer inputs, '
                         'opset >= 13, shapes inferred)',
                   options={'opset': args.opset, 'lever': lever})
    reader = _reader_factory(args, frames, spec, names[0])
    _add_precisions(args, manifest, out_dir, fixed, stem, '', {'lever': lever}, precisions,
                    spec, reader)
    for method in args.prune:
        assert pruning is not None
        safe = re.sub(r'[^A-Za-z0-9_.-]', '-', method)
        final = out_dir / f'{stem}_{safe}.onnx'
        with atomic_output(final, suffix='.tmp.onnx') as tmp:
            pruning.make_pruned_variant(fp32_path, method, args.sparsity, tmp)
        pruned = onnx.load(str(final))
        report = pruning.sparsity_report(pruned)
        recorded = pruning.pruning_notes(pruned)
        options: Dict[str, Any] = {
            'lever': 'pruning', 'method': method,
            'prunable_params': report['prunable_params'],
            'prunable_zeros': report['prunable_zeros'], 'weight_sparsity': report['sparsity'],
            'total_params': report['total_params'],
            'skipped_layers': len(recorded.get('skipped') or [])}
        if method != '2:4':
            options['sparsity'] = args.sparsity
        if method == 'channel':
            options['shrunk_layers'] = len(recorded.get('pruned') or [])
        notes = pruning.variant_notes(pruned)
        mf.add_variant(manifest, out_dir, method, 'fp32', final, notes=notes, options=options)
        _add_precisions(args, manifest, out_dir, pruned, f'{stem}_{safe}', f'{method}_',
                        dict(options, pruned_from=final.name), precisions, spec, reader,
                        f'{notes}; then ')
    return mf.write_manifest(out_dir / mf.MANIFEST_FILE, manifest)


def _kept_manifest(out_dir: Path, fresh: Dict[str, Any]) -> Dict[str, Any]:
    """Return ``fresh``, holding the entries of the folder's manifest for the same source.

    Running again with another ``--prune``/``--sparsity`` into the same folder adds to the
    manifest instead of dropping what is there; entries whose file is gone are left out.
    """
    from accel_ai_ros_tools.variants import manifest as mf
    from accel_ai_ros_tools.variants import VariantError
    try:
        old = mf.read_manifest(out_dir / mf.MANIFEST_FILE)
    except VariantError:
        return fresh
    same = old['source'].get('sha256') == fresh['source']['sha256'] and \
        old['preprocessing'] == fresh['preprocessing'] and old['task'] == fresh['task']
    if same:
        fresh['variants'] = [v for v in old['variants'] if (out_dir / v['path']).is_file()]
    return fresh


def _source_lever(model: Any) -> str:
    """Return 'pruning' for a model that carries pruning notes, else 'precision'."""
    try:
        from accel_ai_ros_tools.variants.pruning import pruning_notes
    except ImportError:
        return 'precision'
    return 'pruning' if pruning_notes(model) else 'precision'


def _reader_factory(args: argparse.Namespace, frames: Any, spec: Any,
                    input_name: str) -> Callable[[], Any]:
    """Return a function giving a fresh calibration reader per INT8 model (or None).

    Image folders, videos and bags are opened again for each model; topic frames are
    captured once and kept.
    """
    from accel_ai_ros_tools.variants import calibration
    chosen = [(kind, getattr(args, attr)) for attr, kind in _SOURCES if getattr(args, attr)]
    kept: List[Any] = []
    state = {'first': frames}

    def make() -> Any:
        if frames is None:
            return None
        source = state.pop('first', None)
        if source is None:
            source = iter(kept) if chosen[0][0] == 'topic' else calibration.open_source(
                chosen[0][0], chosen[0][1], args.calibration_count, args.calibration_timeout)
        elif chosen[0][0] == 'topic':
            kept.extend(source)
            source = iter(kept)
        return calibration.CalibrationReader(source, spec, input_name, args.calibration_count,
                                             holdout_every=args.holdout_every)
    return make


def _add_precisions(args: argparse.Namespace, manifest: Dict[str, Any], out_dir: Path,
                    fixed: Any, stem: str, prefix: str, extra: Dict[str, Any],
                    precisions: Sequence[str], spec: Any, reader: Callable[[], Any],
                    notes_prefix: str = '') -> None:
    """Write the FP16 and INT8 conversions of ``fixed`` as ``<stem>_<precision>.onnx``."""
    from accel_ai_ros_tools.variants import manifest as mf
    if 'fp16' in precisions:
        from accel_ai_ros_tools.variants.fp16 import convert_fp16
        from accel_ai_ros_tools.variants.fp16 import DEFAULT_FP16_BLOCK_LIST
        blocked = DEFAULT_FP16_BLOCK_LIST if args.fp16_block_ops is None \
            else args.fp16_block_ops
        fp16, options = convert_fp16(fixed, op_block_list=blocked, target_opset=args.opset)
        path = atomic_write(out_dir / f'{stem}_fp16.onnx', fp16.SerializeToString())
        mf.add_variant(manifest, out_dir, f'{prefix}fp16', 'fp16', path,
                       options=dict(extra, **options),
                       notes=f'{notes_prefix}FP16 weights and compute, FP32 inputs and '
                             f'outputs')
    if 'int8' in precisions:
        int8, options = _int8(args, fixed, spec, reader())
        path = atomic_write(out_dir / f'{stem}_int8.onnx', int8.SerializeToString())
        kept = options.get('mixed_precision', {}).get('kept_float') or []
        mf.add_variant(manifest, out_dir, f'{prefix}int8', 'int8', path,
                       options=dict(extra, **options),
                       notes=f'{notes_prefix}explicit INT8 (QuantizeLinear/DequantizeLinear) '
                             f'for {args.int8_target}: {options["activations"]} activations, '
                             f'{options["weights"]} per-channel weights'
                             + (f'; {len(kept)} layer(s) kept in float' if kept else ''))


def _say(line: str) -> None:
    print(f'{PROG}: {line}', file=sys.stderr)


def _int8(args: argparse.Namespace, fixed: Any, spec: Any,
          reader: Any) -> Tuple[Any, Dict[str, Any]]:
    """Calibrate (saying what was found), check the frames, then quantize mixed if needed."""
    from accel_ai_ros.tasks.registry import make_decoder
    from accel_ai_ros_tools.variants import calibration
    from accel_ai_ros_tools.variants import VariantError
    from accel_ai_ros_tools.variants.int8 import DEFAULT_INT8_OP_TYPES
    from accel_ai_ros_tools.variants.int8 import quantize_int8
    from accel_ai_ros_tools.variants.mixed import agreement
    from accel_ai_ros_tools.variants.mixed import mixed_precision_int8
    from accel_ai_ros_tools.variants.mixed import name_nodes
    from accel_ai_ros_tools.variants.mixed import run_outputs
    from accel_ai_ros_tools.variants.modelopt_int8 import quantize_int8_modelopt
    with tempfile.TemporaryDirectory(prefix='accel_ai_variants.') as tmp:
        cache = calibration.CalibrationCache(
            Path(args.calibration_cache) if args.calibration_cache else Path(tmp) / 'c.json')
        common: Dict[str, Any] = {
            'method': args.calibration_method, 'cache': cache, 'percentile': args.percentile,
            'op_types': args.int8_op_types or DEFAULT_INT8_OP_TYPES,
            'target_opset': args.opset, 'target': args.int8_target,
            'quant_format': {'qdq': 'QDQ', 'qoperator': 'QOperator'}[args.int8_format],
            'reduce_range': {'auto': None, 'on': True, 'off': False}[args.int8_reduce_range]}
        fixed = name_nodes(fixed)  # as the mixed-precision search names them
        quantizer = _quantizer(args, reader)
        if quantizer == 'modelopt':
            int8, options = quantize_int8_modelopt(
                fixed, reader, args.calibration_method, args.int8_exclude_nodes,
                args.int8_op_types, args.opset)
        else:
            int8, options = quantize_int8(fixed, spec, reader,
                                          nodes_to_exclude=args.int8_exclude_nodes, **common)
        _say(f'int8: {args.int8_target} target made with {options["quantizer"]}')
        if reader is not None and reader.calls:
            while reader.get_next() is not None:  # nothing left: only counts what was there
                pass
            _say(f'calibration: {reader.seen} frame(s) found of {args.calibration_count} asked; '
                 f'{reader.frames} calibrated, {len(reader.held_out)} held out for the '
                 f'accuracy check (frames {_frame_list(reader.held_out_frames)} of the '
                 f'source, in its order: sorted file names for a folder)')
            options.update(calibration_frames_asked=args.calibration_count,
                           held_out_frames=reader.held_out_frames)
            if reader.frames < args.calibration_min and not args.force:
                raise VariantError(
                    f'only {reader.frames} calibration frame(s), fewer than '
                    f'--calibration-min {args.calibration_min}: ranges from so few frames '
                    f'miss what the camera sees; give more frames, or --force to accept')
        elif options['calibration_cached']:
            _say(f'calibration: ranges from the cache ({options["calibration_frames"]} '
                 f'frames); no held-out frames, so no accuracy check')
        held_out = reader.held_out if reader is not None else []
        if not held_out:
            return int8, options
        values = dict(_values(args), top_k=1)
        task = str(values.get('task', 'raw'))
        decoder = make_decoder(task, values, (), spec.width, spec.height)
        if quantizer == 'modelopt' or args.no_mixed_precision:
            score = agreement(task, decoder, held_out, run_outputs(fixed, held_out),
                              run_outputs(int8, held_out, args.int8_target == 'tensorrt'))
            _say(f'int8: {score.metric} against FP32 on the held-out frames {score.score:.4f} '
                 f'{score.details} (no mixed-precision search'
                 + (': it runs with --int8-quantizer onnxruntime)' if quantizer == 'modelopt'
                    else ')'))
            options['held_out_agreement'] = dict(score.details, metric=score.metric,
                                                 score=round(score.score, 4))
            return int8, options
        result = mixed_precision_int8(
            fixed, spec, None, held_out, task, decoder, tolerance=args.int8_tolerance,
            target=args.int8_target, method=args.calibration_method, cache=cache,
            op_types=common['op_types'], progress=lambda line: _say(f'int8: {line}'),
            quantize_options={'percentile': args.percentile,
                              'reduce_range': common['reduce_range'],
                              'quant_format': common['quant_format'],
                              'target_opset': args.opset})
    for key in ('calibration_frames_asked', 'held_out_frames'):
        if key in options:
            result.options[key] = options[key]
    mixed = result.options['mixed_precision']
    if result.kept_float:
        _say(f'int8: kept {len(result.kept_float)} layer(s) in float '
             f'({", ".join(result.kept_float)}); {mixed["metric"]} '
             f'{result.full_int8.score:.4f} -> {result.final.score:.4f}'
             + ('' if result.met else ' (tolerance NOT met: see --int8-tolerance)'))
    return result.model, result.options


def _quantizer(args: argparse.Namespace, reader: Any) -> str:
    """Return 'modelopt' or 'onnxruntime' for --int8-quantizer, refusing what cannot work."""
    from accel_ai_ros_tools.variants import VariantError
    from accel_ai_ros_tools.variants.modelopt_int8 import INSTALL_HINT
    from accel_ai_ros_tools.variants.modelopt_int8 import METHODS
    from accel_ai_ros_tools.variants.modelopt_int8 import modelopt_error
    if args.int8_quantizer == 'onnxruntime':
        return 'onnxruntime'
    usable = args.int8_target == 'tensorrt' and reader is not None and \
        args.calibration_method in METHODS
    if args.int8_quantizer == 'auto':
        return 'modelopt' if usable and modelopt_error() is None else 'onnxruntime'
    if not usable:
        raise VariantError('--int8-quantizer modelopt makes the tensorrt target from '
                           'calibration frames with --calibration-method minmax or entropy; '
                           'change those, or use --int8-quantizer onnxruntime')
    error = modelopt_error()
    if error is not None:
        raise VariantError(f'NVIDIA Model Optimizer is not importable ({error}); '
                           f'{INSTALL_HINT}')
    return 'modelopt'


def _frame_list(frames: Sequence[int]) -> str:
    shown = ', '.join(f'#{i}' for i in frames[:8])
    return (shown + (f' and {len(frames) - 8} more' if len(frames) > 8 else '')) or 'none'


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``make_variants``; return its exit status."""
    args = _parser().parse_args(argv)
    try:
        path = run(args)
    except (AccelAiError, OSError) as exc:
        message = collapse_whitespace(exc)
        print(f'{PROG}: error: {message}', file=sys.stderr)
        return 1
    print(f'{PROG}: wrote {path}')
    if args.triton_repo:
        from accel_ai_ros_tools.triton_repo import write_variants
        try:
            written = write_variants(Path(args.triton_repo).expanduser(), path,
                                     args.triton_kind, name=args.triton_name,
                                     max_batch=args.triton_max_batch,
                                     instances=args.triton_instances)
        except (AccelAiError, OSError) as exc:
            print(f'{PROG}: error: {" ".join(str(exc).split())}', file=sys.stderr)
            return 1
        for name, folder in written.items():
            print(f'{PROG}: Triton model {name} in {folder} '
                  f'(engines.<precision>: triton://<server>:8001/{name}/1)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
