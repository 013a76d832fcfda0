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

"""``benchmark``: benchmarks that print figures (never timed unit tests).

Each subcommand lives in its own module with ``add_arguments(parser)`` and
``run(args) -> int``; this dispatcher imports only the one asked for, so a missing optional
library (matplotlib, torch, cupy) breaks only the subcommand that needs it.
"""

import argparse
import importlib
import sys
from typing import Optional
from typing import Sequence

from accel_ai_ros.errors import AccelAiError

SUBCOMMANDS = {
    'composition': ('accel_ai_ros_tools.bench_composition',
                    'in-process hand-off (1080p) and several cameras on one engine'),
    'latency': ('accel_ai_ros_tools.bench_latency',
                'node end-to-end latency against bare inference (640x480, 1080p)'),
    'precision': ('accel_ai_ros_tools.bench_precision',
                  'accuracy against latency per precision variant; report, plots, advice'),
    'gpu-preprocess': ('accel_ai_ros_tools.bench_gpu',
                       'fused GPU preprocessing against the CPU path (needs CUDA)'),
    'soak': ('accel_ai_ros_tools.bench_reliability',
             'the node at 30 Hz for a long time: resident memory and latency per window'),
    'swap-storm': ('accel_ai_ros_tools.bench_reliability',
                   '1000 precision swaps under a 30 Hz stream: frames lost, wrong headers'),
    'int8': ('accel_ai_ros_tools.bench_int8',
             'INT8 targets (tensorrt, cpu) and mixed precision against FP32 on this CPU'),
    'triton': ('accel_ai_ros_tools.bench_triton',
               'a Triton server against local ONNX Runtime: overhead per frame, N clients'),
    'adaptive': ('accel_ai_ros_tools.bench_adaptive',
                 'deadline misses under CPU load with adaptive precision off and on'),
    'sparsity': ('accel_ai_ros_tools.bench_sparsity',
                 'what 2:4 semi-structured sparsity really gives (PyTorch on CUDA)'),
}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one benchmark subcommand; exit 1 with a one-line message on a known error."""
    parser = argparse.ArgumentParser(prog='benchmark', description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='command', required=True)
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in argv if not a.startswith('-')), None)
    modules = {}
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text)
        if name == chosen:
            try:
                modules[name] = importlib.import_module(module_name)
            except ImportError as exc:
                print(f'benchmark {name}: cannot start: {exc}', file=sys.stderr)
                return 1
            modules[name].add_arguments(sub_parser)
    args = parser.parse_args(argv)
    try:
        return int(modules[args.command].run(args))
    except AccelAiError as exc:
        print(f'benchmark {args.command}: error: {exc}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
