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

"""``benchmark int8``: both INT8 targets and mixed precision against FP32, on this CPU.

Takes the face detector (``--model``, e.g. ../shared/models/face-detector-slim-320), makes
its INT8 variants with the variants library, calibrated on
:func:`~accel_ai_ros_tools.face_frames.calibration_frames`, and prints one table: boxes
FP32 found that each variant keeps at IoU 0.5 and 0.9 on the held-out frames, the layers kept
in float, and ONNX Runtime CPU latency (one thread and all threads, p50 of ``--iterations``).
The tensorrt rows are scored with Q/DQ computed exactly (as TensorRT sums into int32) and timed
on ONNX Runtime's CPU kernels, which is what running them on a CPU costs.
"""

import argparse
import json
import os
from pathlib import Path
import platform
import subprocess
import time
from typing import Any
from typing import Dict
from typing import List
from typing import Optional

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's options."""
    parser.add_argument('--model', required=True,
                        help='the face detector ONNX (version-slim-320.onnx)')
    parser.add_argument('--iterations', type=int, default=200,
                        help='timed runs per variant and thread setting (default: %(default)s)')
    parser.add_argument('--json', help='also write the rows and the machine to this file')


def _latency_ms(model: Any, tensor: np.ndarray, threads: int, iterations: int,
                qdq_as_float: bool = False) -> float:
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    if qdq_as_float:
        options.add_session_config_entry('session.disable_quant_qdq', '1')
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=['CPUExecutionProvider'])
    feed = {session.get_inputs()[0].name: tensor}
    for _ in range(10):
        session.run(None, feed)
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        session.run(None, feed)
        samples.append((time.perf_counter() - start) * 1e3)
    return float(np.percentile(samples, 50))


def machine() -> Dict[str, Any]:
    """Describe this machine: CPU model, int8 flags, cores, ONNX Runtime, commit."""
    import onnxruntime as ort

    from accel_ai_ros.backends.onnxruntime.int8_target import cpu_int8_support
    model = platform.processor()
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            model = next((line.split(':', 1)[1].strip() for line in f
                          if line.startswith('model name')), model)
    except OSError:
        pass
    try:
        commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True,
                                text=True, cwd=Path(__file__).parent, check=False).stdout.strip()
    except OSError:
        commit = ''
    return {'cpu': model, 'int8': cpu_int8_support().describe(), 'cores': os.cpu_count(),
            'onnxruntime': ort.__version__, 'commit': commit or 'unknown'}


def run(args: argparse.Namespace) -> int:
    """Make the variants, score and time them, print the table."""
    import onnx

    from accel_ai_ros.preprocess import CpuPreprocessor
    from accel_ai_ros.preprocess import PreprocessSpec
    from accel_ai_ros.tasks.detection import DetectionDecoder
    from accel_ai_ros_tools.face_frames import calibration_frames
    from accel_ai_ros_tools.face_frames import held_out_frames
    from accel_ai_ros_tools.variants.calibration import CalibrationCache
    from accel_ai_ros_tools.variants.calibration import CalibrationReader
    from accel_ai_ros_tools.variants.int8 import quantize_int8
    from accel_ai_ros_tools.variants.int8 import resolve_reduce_range
    from accel_ai_ros_tools.variants.mixed import agreement
    from accel_ai_ros_tools.variants.mixed import mixed_precision_int8
    from accel_ai_ros_tools.variants.mixed import name_nodes
    from accel_ai_ros_tools.variants.mixed import run_outputs
    from accel_ai_ros_tools.variants.onnx_fixes import prepare_model

    spec = PreprocessSpec(240, 320, resize_mode='stretch', scale=1.0, mean=(127.0,),
                          std=(128.0,))
    decoder = DetectionDecoder(320, 240, layout='ssd', score_threshold=0.7, iou_threshold=0.3,
                               max_detections=50)
    pre = CpuPreprocessor(spec)
    frames = [pre(image) for image in held_out_frames()]
    raw = name_nodes(onnx.load(str(Path(args.model).expanduser())))
    fp32 = prepare_model(raw, fix_batch=True)
    reference = run_outputs(fp32, frames)
    tensor = frames[0][0]
    cache = CalibrationCache(Path(os.environ.get('TMPDIR', '/tmp')) /
                             f'accel_ai_bench_int8.{os.getpid()}.json')
    auto = resolve_reduce_range('cpu', None)
    rows: List[Dict[str, Any]] = []

    def add(name: str, model: Any, target: str, fmt: str, reduce: Optional[bool],
            kept: List[str]) -> None:
        exact = target == 'tensorrt'
        score = agreement('detection', decoder, frames, reference,
                          run_outputs(model, frames, exact))
        rows.append({'variant': name, 'target': target, 'format': fmt,
                     'reduce_range': reduce, 'kept_float': kept, **score.details,
                     'p50_ms_1_thread': _latency_ms(model, tensor, 1, args.iterations),
                     'p50_ms_all_threads': _latency_ms(model, tensor, 0, args.iterations)})
        print(f'  measured {name}', flush=True)

    try:
        add('fp32', fp32, '-', '-', None, [])
        for target, fmt, reduce in (('cpu', 'QDQ', auto), ('cpu', 'QOperator', auto),
                                    ('cpu', 'QDQ', not auto), ('tensorrt', 'QDQ', False)):
            # ranges are cached per target (symmetric or not): frames read once per target
            reader = CalibrationReader(iter(calibration_frames()), spec, 'input', count=100)
            model, _ = quantize_int8(raw, spec, reader, method='percentile', cache=cache,
                                     check=False, target=target, quant_format=fmt,
                                     reduce_range=reduce if target == 'cpu' else None)
            add(f'int8 {target} {fmt}' + (' reduce_range' if reduce else ''), model, target,
                fmt, reduce, [])
        for target in ('tensorrt', 'cpu'):
            result = mixed_precision_int8(raw, spec, None, frames, 'detection', decoder,
                                          target=target, cache=cache)
            add(f'int8 {target} mixed', result.model, target, 'QDQ',
                result.options['reduce_range'], result.kept_float)
    finally:
        if cache.path.exists():
            cache.path.unlink()
    info = machine()
    print(f"\nmachine: {info['cpu']}; {info['int8']}; {info['cores']} cores; onnxruntime "
          f"{info['onnxruntime']}; commit {info['commit']}")
    print(f"held-out frames: {len(frames)}, FP32 boxes: {rows[0]['fp32_boxes']}\n")
    print(f"{'variant':32s} {'kept@0.5':>8s} {'kept@0.9':>8s} {'F1@0.5':>7s} "
          f"{'1 thread':>9s} {'all':>8s}  float layers")
    base1, base_all = rows[0]['p50_ms_1_thread'], rows[0]['p50_ms_all_threads']
    for row in rows:
        print(f"{row['variant']:32s} {row['kept_iou50']:8.3f} {row['kept_iou90']:8.3f} "
              f"{row['f1_iou50']:7.3f} {row['p50_ms_1_thread']:7.2f}ms "
              f"{row['p50_ms_all_threads']:6.2f}ms  {', '.join(row['kept_float']) or '-'}"
              f"  (x{base1 / row['p50_ms_1_thread']:.2f} / "
              f"x{base_all / row['p50_ms_all_threads']:.2f} vs FP32)")
    if args.json:
        Path(args.json).write_text(json.dumps({'machine': info, 'rows': rows}, indent=2))
    return 0
