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

"""``benchmark sparsity``: what 2:4 sparsity and pruning really give, measured.

Two benchmarks:

- default (needs CUDA, an Ampere or newer GPU and PyTorch): FP16 Linear layers dense
  against 2:4 semi-structured sparse (``torch.sparse.to_sparse_semi_structured``), timed
  with CUDA events (median of many runs), plus which layers of the demo's plain CNN can take
  a sparse kernel at all. Without CUDA it prints one line and exits 1.
- ``--onnx-cpu`` (no GPU, no PyTorch): ONNX Runtime on the CPU, a model dense against its
  2:4, magnitude and channel-pruned variants (:mod:`accel_ai_ros_tools.variants.pruning`), or the
  files of a ``variants.json``. It shows that zeros alone gain nothing there (ONNX Runtime
  stores and multiplies them densely) while removed channels do.
"""

import argparse
import json
from pathlib import Path
import platform
import statistics
import tempfile
import time
from typing import Any
from typing import Dict
from typing import List
from typing import Sequence
from typing import Tuple

import numpy as np

from accel_ai_ros.errors import BackendUnavailableError
from accel_ai_ros.errors import ParameterError

#: (name, in_features, out_features, tokens) of the GPU Linear cases.
LINEAR_CASES = (
    ('linear 4096x4096, 128 tokens', 4096, 4096, 128),
    ('linear 4096x4096, 1024 tokens', 4096, 4096, 1024),
    ('linear 4096x4096, 8192 tokens', 4096, 4096, 8192),
    ('linear 4096->16384, 8192 tokens', 4096, 16384, 8192),
    ('linear 16384->4096, 8192 tokens', 16384, 4096, 8192),
)
#: (name, method, amount) of the post-training variants the CPU benchmark makes.
CPU_VARIANTS = (
    ('dense', None, 0.0), ('2:4', '2:4', 0.0), ('magnitude 50%', 'magnitude', 0.5),
    ('magnitude 80%', 'magnitude', 0.8), ('channel 25%', 'channel', 0.25),
    ('channel 50%', 'channel', 0.5),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sparsity benchmark's options to ``parser``."""
    parser.add_argument('--onnx-cpu', action='store_true',
                        help='benchmark ONNX Runtime on the CPU instead of PyTorch on CUDA')
    parser.add_argument('--model', type=Path,
                        help='--onnx-cpu: FP32 ONNX model to prune after training (2:4, '
                             'magnitude 50/80%%, channel 25/50%%)')
    parser.add_argument('--variants-json', type=Path,
                        help='--onnx-cpu: time the files of this variants.json as they are')
    parser.add_argument('--iterations', type=int, default=200, help='timed runs per case')
    parser.add_argument('--warmup', type=int, default=20, help='untimed runs per case')
    parser.add_argument('--threads', type=int, default=1,
                        help='--onnx-cpu: ONNX Runtime intra-op threads (default: 1)')


def _p50_p90(samples_ms: Sequence[float]) -> Tuple[float, float]:
    ordered = sorted(samples_ms)
    return statistics.median(ordered), ordered[min(len(ordered) - 1,
                                                   int(0.9 * len(ordered)))]


# ----------------------------------------------------------------------------- CUDA


def _cuda_time(torch: Any, fn: Any, warmup: int, iterations: int) -> float:
    """Return the median milliseconds of ``fn()`` timed with CUDA events."""
    for _ in range(warmup):
        fn()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(iterations)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(iterations)]
    for start, end in zip(starts, ends):
        start.record()
        fn()
        end.record()
    torch.cuda.synchronize()
    return statistics.median(s.elapsed_time(e) for s, e in zip(starts, ends))


def _sparse_linear_case(torch: Any, fin: int, fout: int, tokens: int,
                        args: argparse.Namespace) -> Dict[str, Any]:
    from torch.sparse import to_sparse_semi_structured

    from accel_ai_ros_tools.demo_train import mask_2_4
    linear = torch.nn.Linear(fin, fout, bias=False).half().cuda().eval()
    with torch.no_grad():
        linear.weight.mul_(mask_2_4(linear.weight))
    x = torch.randn(tokens, fin, dtype=torch.float16, device='cuda')
    with torch.inference_mode():
        dense_ms = _cuda_time(torch, lambda: linear(x), args.warmup, args.iterations)
        reference = linear(x)
        sparse_weight = to_sparse_semi_structured(linear.weight)
        linear.weight = torch.nn.Parameter(sparse_weight, requires_grad=False)
        sparse_ms = _cuda_time(torch, lambda: linear(x), args.warmup, args.iterations)
        diff = float((linear(x) - reference).abs().max())
    return {'dense_ms': dense_ms, 'sparse_ms': sparse_ms, 'max_abs_diff': diff,
            'kernel': type(sparse_weight).__name__}


def _cnn_layers(torch: Any) -> List[Tuple[str, str]]:
    """Say, for each layer of the demo's plain CNN (FP16, CUDA), if a sparse kernel takes it."""
    from torch.sparse import to_sparse_semi_structured

    from accel_ai_ros_tools.demo_train import build_model
    from accel_ai_ros_tools.demo_train import mask_2_4
    verdicts = []
    for name, module in build_model('cnn').half().cuda().named_children():
        if isinstance(module, torch.nn.Conv2d):
            verdicts.append((name, 'dense: to_sparse_semi_structured takes Linear/matmul '
                                   'weights only (TensorRT can run sparse convolutions)'))
        elif isinstance(module, torch.nn.Linear):
            weight = module.weight.detach()
            if weight.shape[1] % 4:
                verdicts.append((name, 'dense: input features not a multiple of 4'))
                continue
            try:
                sparse = to_sparse_semi_structured(weight * mask_2_4(weight))
                verdicts.append((name, f'sparse kernel ({type(sparse).__name__})'))
            except (RuntimeError, ValueError) as exc:
                verdicts.append((name, f'dense: {" ".join(str(exc).split())[:120]}'))
    return verdicts


def run_cuda(args: argparse.Namespace) -> int:
    """Time dense against 2:4 semi-structured FP16 Linear layers on the GPU."""
    try:
        import torch
    except ImportError as exc:
        raise BackendUnavailableError(f'PyTorch is not importable ({exc}); install a CUDA '
                                      f'build: pip install torch') from exc
    if not torch.cuda.is_available():
        print('benchmark sparsity: no CUDA device is visible to PyTorch; 2:4 sparse '
              'kernels need an NVIDIA GPU of compute capability 8.0 or newer (use --onnx-cpu '
              'for the CPU comparison)')
        return 1
    capability = torch.cuda.get_device_capability()
    if capability < (8, 0):
        print(f'benchmark sparsity: {torch.cuda.get_device_name()} has compute '
              f'capability {capability[0]}.{capability[1]}; 2:4 sparse tensor cores need 8.0 '
              f'or newer (Ampere, Ada, Hopper, Jetson Orin)')
        return 1
    torch.manual_seed(0)
    print(f'device: {torch.cuda.get_device_name()}, torch {torch.__version__}, CUDA '
          f'{torch.version.cuda}; FP16, median of {args.iterations} runs (CUDA events)')
    print(f'{"case":<34} {"dense ms":>9} {"2:4 ms":>9} {"speed-up":>8} {"max|diff|":>9} kernel')
    for name, fin, fout, tokens in LINEAR_CASES:
        try:
            r = _sparse_linear_case(torch, fin, fout, tokens, args)
        except (RuntimeError, ValueError) as exc:
            print(f'{name:<34} not run: {" ".join(str(exc).split())[:100]}')
            continue
        print(f"{name:<34} {r['dense_ms']:>9.4f} {r['sparse_ms']:>9.4f} "
              f"{r['dense_ms'] / r['sparse_ms']:>7.2f}x {r['max_abs_diff']:>9.2e} "
              f"{r['kernel']}")
    print('demo plain CNN (8x8 input), which layers can take a 2:4 sparse kernel:')
    for name, verdict in _cnn_layers(torch):
        print(f'  {name:<6} {verdict}')
    return 0


# ----------------------------------------------------------------------------- ONNX CPU


def _session(path: Path, threads: int) -> Any:
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=['CPUExecutionProvider'])


def _feeds(session: Any) -> Dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    feeds = {}
    for value in session.get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in value.shape]
        feeds[value.name] = rng.random(shape, dtype=np.float32)
    return feeds


def _cpu_times(sessions: Sequence[Tuple[Any, Dict[str, np.ndarray]]],
               args: argparse.Namespace) -> List[List[float]]:
    """Return each session's run times in ms, the sessions taking turns run by run.

    Interleaving spreads the load of a shared machine evenly over the variants, so their
    medians stay comparable even when the absolute figures wander.
    """
    for session, feeds in sessions:
        for _ in range(args.warmup):
            session.run(None, feeds)
    samples: List[List[float]] = [[] for _ in sessions]
    for _ in range(args.iterations):
        for times, (session, feeds) in zip(samples, sessions):
            start = time.perf_counter()
            session.run(None, feeds)
            times.append((time.perf_counter() - start) * 1e3)
    return samples


def _cpu_files(args: argparse.Namespace, workdir: Path) -> List[Tuple[str, Path]]:
    """Return the (name, path) pairs to time: a variants.json's or freshly pruned ones."""
    import onnx

    from accel_ai_ros_tools.variants import onnx_fixes
    from accel_ai_ros_tools.variants import pruning
    if args.variants_json:
        data = json.loads(Path(args.variants_json).read_text(encoding='utf-8'))
        return [(str(v['name']), Path(args.variants_json).parent / str(v['path']))
                for v in data.get('variants', [])]
    if not args.model or not Path(args.model).is_file():
        raise ParameterError('--onnx-cpu needs --model PATH (an FP32 ONNX file) or '
                             '--variants-json PATH')
    # Weights listed as graph inputs stop ONNX Runtime's fusions; treat every file alike.
    model = onnx_fixes.remove_initializer_inputs(onnx.load(str(args.model)))
    files = []
    for name, method, amount in CPU_VARIANTS:
        path = workdir / f'{name.replace(" ", "_").replace(":", "of").replace("%", "")}.onnx'
        pruned = model if method is None else pruning.prune(model, method, amount)
        pruning.write_model_atomically(pruned, path)
        files.append((name, path))
    return files


def run_onnx_cpu(args: argparse.Namespace) -> int:
    """Time ONNX Runtime (CPU) on a dense model and its pruned variants; print a table."""
    import onnx

    from accel_ai_ros_tools.variants import pruning
    with tempfile.TemporaryDirectory(prefix='accel_ai_sparsity_') as tmp:
        files = _cpu_files(args, Path(tmp))
        sessions = []
        for _, path in files:
            session = _session(path, args.threads)
            sessions.append((session, _feeds(session)))
        samples = _cpu_times(sessions, args)
        print(f'ONNX Runtime CPU, {args.threads} thread(s), {platform.processor() or "cpu"}; '
              f'p50 and p90 of {args.iterations} runs each, variants taking turns')
        print(f'{"variant":<16} {"params":>8} {"zeros":>6} {"bytes":>9} {"p50 ms":>8} '
              f'{"p90 ms":>8} {"vs first":>8} {"max|diff|":>9}')
        first_ms = None
        reference = None
        for (name, path), (session, feeds), times in zip(files, sessions, samples):
            report = pruning.sparsity_report(onnx.load(str(path)))
            p50, p90 = _p50_p90(times)
            out = np.asarray(session.run(None, feeds)[0])
            first_ms = first_ms or p50
            if reference is None or reference.shape != out.shape:
                reference = out
            diff = float(np.max(np.abs(out - reference)))
            print(f"{name:<16} {report['total_params']:>8} {report['sparsity']:>6.1%} "
                  f'{path.stat().st_size:>9} {p50:>8.3f} {p90:>8.3f} '
                  f'{first_ms / p50:>7.2f}x {diff:>9.2e}')
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the benchmark the arguments ask for; return the exit status."""
    if args.iterations < 1 or args.warmup < 0 or args.threads < 1:
        raise ParameterError('--iterations and --threads must be at least 1, --warmup at '
                             'least 0')
    if args.onnx_cpu:
        return run_onnx_cpu(args)
    return run_cuda(args)
