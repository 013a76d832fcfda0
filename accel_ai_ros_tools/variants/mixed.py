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

"""Accuracy-guided mixed precision: INT8 everywhere but the layers that cost the most.

The INT8 model is compared with FP32 on held-out frames (frames the calibration never saw),
through the task's own decoder: box F1 at IoU 0.5 for detectors, top-1 agreement for
classifiers, output cosine otherwise. When it loses more than a tolerance, every quantizable
layer is quantized alone and its output error measured; the costliest layers are then kept
in float one at a time, most costly first, until the tolerance holds (or ``max_float_layers``
is reached, which the result says). TensorRT-target models are scored with Q/DQ computed
exactly (ONNX Runtime's ``session.disable_quant_qdq``), as TensorRT sums int8 products into
int32; CPU-target models with ONNX Runtime's own integer kernels, as they will run.
"""

from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
import tempfile
from typing import Any
from typing import Callable
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple

import numpy as np
import onnx

from accel_ai_ros.preprocess import PreprocessSpec
from accel_ai_ros.transform import ImageTransform
from accel_ai_ros_tools.variants.calibration import CalibrationCache
from accel_ai_ros_tools.variants.calibration import CalibrationReader
from accel_ai_ros_tools.variants.int8 import DEFAULT_INT8_OP_TYPES
from accel_ai_ros_tools.variants.int8 import quantize_int8
from accel_ai_ros_tools.variants.onnx_fixes import prepare_model

#: Default tolerated loss against FP32 by task (issue 16): 2 % box F1, 1 % top-1 agreement.
DEFAULT_TOLERANCE = {'detection': 0.02, 'classification': 0.01, 'raw': 0.01}
#: A held-out frame: the preprocessed tensor and the transform back to image pixels.
HeldOut = Tuple[np.ndarray, ImageTransform]


def name_nodes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Return a copy whose unnamed nodes are named '<op>:<first output>' (for exclusion)."""
    named = onnx.ModelProto()
    named.CopyFrom(model)
    for node in named.graph.node:
        if not node.name:
            node.name = f'{node.op_type}:{node.output[0]}'
    return named


def session(model: onnx.ModelProto, qdq_as_float: bool = False) -> Any:
    """Return an ONNX Runtime CPU session; ``qdq_as_float`` computes Q/DQ exactly."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if qdq_as_float:
        options.add_session_config_entry('session.disable_quant_qdq', '1')
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=['CPUExecutionProvider'])


def run_outputs(model: onnx.ModelProto, frames: Sequence[HeldOut],
                qdq_as_float: bool = False) -> List[Dict[str, np.ndarray]]:
    """Run ``model`` over the held-out tensors; return one output dict per frame."""
    sess = session(model, qdq_as_float)
    name = sess.get_inputs()[0].name
    names = [o.name for o in sess.get_outputs()]
    return [dict(zip(names, sess.run(None, {name: tensor}))) for tensor, _ in frames]


def _boxes(result: Any) -> List[Any]:
    from accel_ai_ros_tools.tradeoff.metrics import BoxLabel
    return [BoxLabel(d.x1, d.y1, d.x2, d.y2, d.class_id, d.score) for d in result.detections]


@dataclass
class Agreement:
    """How a variant agrees with FP32 on the held-out frames (1.0: identical)."""

    score: float
    metric: str
    details: Dict[str, Any] = field(default_factory=dict)


def agreement(task: str, decoder: Any, frames: Sequence[HeldOut],
              reference: Sequence[Dict[str, np.ndarray]],
              outputs: Sequence[Dict[str, np.ndarray]]) -> Agreement:
    """Score ``outputs`` against FP32's ``reference`` with the task's decoder."""
    if task == 'detection':
        from accel_ai_ros_tools.tradeoff.metrics import box_agreement
        ref = [_boxes(decoder(r, t)) for r, (_, t) in zip(reference, frames)]
        out = [_boxes(decoder(o, t)) for o, (_, t) in zip(outputs, frames)]
        at5, at9 = box_agreement(out, ref, 0.5), box_agreement(out, ref, 0.9)
        return Agreement(at5.f1, 'box F1 at IoU 0.5', {
            'fp32_boxes': at5.reference, 'int8_boxes': at5.predicted,
            'kept_iou50': round(at5.recall, 4), 'kept_iou90': round(at9.recall, 4),
            'f1_iou50': round(at5.f1, 4)})
    if task == 'classification':
        top = [decoder(o, t).classes[0].class_id for o, (_, t) in zip(outputs, frames)]
        ref_top = [decoder(r, t).classes[0].class_id for r, (_, t) in zip(reference, frames)]
        same = float(np.mean([a == b for a, b in zip(top, ref_top)]))
        return Agreement(same, 'top-1 agreement', {'frames': len(frames)})
    cosines = [_cosine(o, r) for o, r in zip(outputs, reference)]
    return Agreement(float(np.mean(cosines)), 'output cosine', {'frames': len(frames)})


def _flat(outputs: Dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(outputs[k], np.float64).ravel() for k in sorted(outputs)])


def _cosine(a: Dict[str, np.ndarray], b: Dict[str, np.ndarray]) -> float:
    x, y = _flat(a), _flat(b)
    return float(x @ y / max(np.linalg.norm(x) * np.linalg.norm(y), 1e-30))


def output_error(reference: Sequence[Dict[str, np.ndarray]],
                 outputs: Sequence[Dict[str, np.ndarray]]) -> float:
    """Return the mean relative L2 error of the outputs (a layer's cost)."""
    errors = [np.linalg.norm(_flat(o) - _flat(r)) / max(np.linalg.norm(_flat(r)), 1e-30)
              for o, r in zip(outputs, reference)]
    return float(np.mean(errors))


@dataclass
class MixedResult:
    """The chosen model and what the search found."""

    model: onnx.ModelProto
    options: Dict[str, Any]
    full_int8: Agreement
    final: Agreement
    kept_float: List[str]
    layer_costs: List[Tuple[str, float]]
    met: bool


def mixed_precision_int8(
        model: onnx.ModelProto, spec: PreprocessSpec, reader: Optional[CalibrationReader],
        frames: Sequence[HeldOut], task: str, decoder: Any,
        tolerance: Optional[float] = None, target: str = 'tensorrt',
        method: str = 'percentile', cache: Optional[CalibrationCache] = None,
        max_float_layers: int = 12,
        op_types: Sequence[str] = DEFAULT_INT8_OP_TYPES,
        quantize_options: Optional[Dict[str, Any]] = None,
        progress: Callable[[str], None] = lambda line: None) -> MixedResult:
    """
    Quantize ``model`` for ``target``; keep its costliest layers in float until it agrees.

    Give the model through :func:`name_nodes` first when ranges are cached for it: the
    search names its nodes so they can be excluded, and the cache key is the model's hash.

    ``frames`` are held-out frames (never given to ``reader``); the loss is
    ``1 - agreement`` against FP32 on them, tolerated up to ``tolerance`` (by default
    :data:`DEFAULT_TOLERANCE` for the task). ``quantize_options`` go to
    :func:`~accel_ai_ros_tools.variants.int8.quantize_int8` (percentile, reduce_range, ...).
    """
    if not frames:
        from accel_ai_ros_tools.variants import VariantError
        raise VariantError('mixed precision needs held-out frames to measure the INT8 loss; '
                           'give more calibration frames (some are held out)')
    tol = DEFAULT_TOLERANCE.get(task, 0.01) if tolerance is None else float(tolerance)
    qdq_as_float = target == 'tensorrt'
    named = name_nodes(model)
    fp32 = prepare_model(named, fix_batch=True)
    reference = run_outputs(fp32, frames)
    extra = dict(quantize_options or {})
    with tempfile.TemporaryDirectory(prefix='accel_ai_mixed.') as tmp:
        ranges = cache or CalibrationCache(Path(tmp) / 'ranges.json')

        def quantize(excluded: Sequence[str], rdr: Optional[CalibrationReader] = None) -> Any:
            return quantize_int8(named, spec, rdr, method=method, cache=ranges,
                                 nodes_to_exclude=list(excluded), op_types=op_types,
                                 target=target, check=False, **extra)

        full, options = quantize((), reader)
        full_score = agreement(task, decoder, frames, reference,
                               run_outputs(full, frames, qdq_as_float))
        progress(f'full INT8: {full_score.metric} {full_score.score:.4f} '
                 f'(tolerance {tol:g}), {full_score.details}')
        if 1.0 - full_score.score <= tol:
            options.update(mixed_precision={'tolerance': tol, 'kept_float': [],
                                            'agreement': full_score.details})
            return MixedResult(full, options, full_score, full_score, [], [], True)
        layers = [n.name for n in fp32.graph.node if n.op_type in op_types]
        costs: List[Tuple[str, float]] = []
        for name in layers:
            alone, _ = quantize([other for other in layers if other != name])
            costs.append((name, output_error(
                reference, run_outputs(alone, frames, qdq_as_float))))
        costs.sort(key=lambda item: -item[1])
        progress('costliest layers: ' + ', '.join(f'{n} {c:.4f}' for n, c in costs[:5]))
        kept: List[str] = []
        best, best_score = full, full_score
        for name, _ in costs[:max_float_layers]:
            kept.append(name)
            candidate, _ = quantize(kept)
            score = agreement(task, decoder, frames, reference,
                              run_outputs(candidate, frames, qdq_as_float))
            progress(f'{len(kept)} in float (+{name}): {score.metric} {score.score:.4f}')
            best, best_score = candidate, score
            if 1.0 - score.score <= tol:
                break
    met = 1.0 - best_score.score <= tol
    options.update(nodes_excluded=sorted(kept), mixed_precision={
        'tolerance': tol, 'metric': best_score.metric, 'kept_float': kept, 'met': met,
        'full_int8': full_score.details, 'agreement': best_score.details,
        'layer_costs': [[n, round(c, 5)] for n, c in costs[:10]]})
    return MixedResult(best, options, full_score, best_score, kept, costs, met)
