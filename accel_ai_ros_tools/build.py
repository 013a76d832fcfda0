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

"""``build_engine``: build TensorRT engines from an ONNX model, one per precision.

fp32 from an FP32 model, fp16 from an FP16 model, int8 from a model with Q/DQ nodes (on
TensorRT 10, ``--legacy-flags`` sets BuilderFlag.FP16/INT8 instead). The model is checked
against each requested precision before TensorRT is started. Engines go to ``--output`` or
into the engine cache (``--cache-dir``), each with its manifest beside it.
"""

import argparse
from pathlib import Path
import sys
from typing import Any
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple

from accel_ai_ros.backends.tensorrt.build import check_dla_request
from accel_ai_ros.backends.tensorrt.build import check_precision_request
from accel_ai_ros.backends.tensorrt.build import engine_file_name
from accel_ai_ros.backends.tensorrt.build import EngineFromOnnx
from accel_ai_ros.backends.tensorrt.build import inspect_onnx
from accel_ai_ros.backends.tensorrt.build import PRECISIONS
from accel_ai_ros.backends.tensorrt.build import SaveEngine
from accel_ai_ros.backends.tensorrt.build import trt_major
from accel_ai_ros.backends.tensorrt.cache import default_cache_dir
from accel_ai_ros.backends.tensorrt.cache import EngineCache
from accel_ai_ros.backends.tensorrt.profile_shapes import profile_from_args
from accel_ai_ros.errors import AccelAiError
from accel_ai_ros.errors import EngineError
from accel_ai_ros.errors import ParameterError

PROG = 'build_engine'
Shape = Tuple[int, ...]


def parse_precisions(values: Sequence[str]) -> List[str]:
    """Return the requested precisions, in order, without repeats (default fp32)."""
    chosen: List[str] = []
    for value in values or ['fp32']:
        for item in value.split(','):
            item = item.strip().lower()
            if item not in PRECISIONS:
                raise ParameterError(f'precision {item!r} is not supported; use one of '
                                     f'{", ".join(PRECISIONS)}')
            if item not in chosen:
                chosen.append(item)
    return chosen


def make_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument('onnx', type=Path, help='ONNX model to build from')
    parser.add_argument('-p', '--precision', action='append', default=[],
                        help='fp32, fp16 or int8; repeat or comma-separate (default fp32)')
    parser.add_argument('-o', '--output', type=Path,
                        help='engine file (one precision) or folder (several); default: the '
                             'engine cache')
    parser.add_argument('--cache-dir', type=Path, default=None,
                        help=f'engine cache folder (default {default_cache_dir()})')
    parser.add_argument('--workspace-mb', type=int, default=0,
                        help='builder workspace limit in MiB (0: TensorRT default)')
    for bound in ('min', 'opt', 'max'):
        parser.add_argument(f'--{bound}-shape', action='append', default=[],
                            metavar='NAME:DxD..', help=f'{bound} shape of a dynamic input')
    parser.add_argument('--device', type=int, default=0,
                        help='CUDA device to build on and for (gpu_device; default 0)')
    parser.add_argument('--dla-core', type=int, default=-1,
                        help='Jetson DLA core to build for, with GPU fallback (-1: GPU only)')
    parser.add_argument('--timing-cache', type=Path, default=None,
                        help='timing cache file to reuse and update (default: the cache one)')
    parser.add_argument('--legacy-flags', action='store_true',
                        help='TensorRT 10 only: set BuilderFlag.FP16/INT8 (weak typing)')
    parser.add_argument('--force', action='store_true',
                        help='rebuild even when the cache has the engine')
    return parser


def build_options(args: argparse.Namespace,
                  profile: Dict[str, Tuple[Shape, Shape, Shape]]) -> Dict[str, Any]:
    """Return the engine-shaping build options the command line asks for."""
    return {'workspace_mb': args.workspace_mb, 'profile_shapes': profile,
            'dla_core': args.dla_core, 'legacy_flags': args.legacy_flags}


def _say(line: str) -> None:
    print(f'{PROG}: {line}', file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Check the model, then build every requested precision; return the exit code."""
    precisions = parse_precisions(args.precision)
    if args.workspace_mb < 0:
        raise ParameterError(f'--workspace-mb must be >= 0, got {args.workspace_mb}')
    profile = profile_from_args(args.min_shape, args.opt_shape, args.max_shape)
    if not args.onnx.is_file():
        raise EngineError(f'ONNX model {str(args.onnx)!r} does not exist; check the path')
    info = inspect_onnx(args.onnx)
    from accel_ai_ros.backends.tensorrt.util import import_tensorrt
    major = trt_major(import_tensorrt().__version__)
    for precision in precisions:  # refuse before spending minutes on another precision
        for warning in check_precision_request(precision, info, major, args.legacy_flags):
            _say(f'warning: {precision}: {warning}')
        check_dla_request(args.dla_core, precision, info, major, profile, args.legacy_flags)
    options = build_options(args, profile)
    if args.device < 0:
        raise ParameterError(f'--device must be >= 0, got {args.device}')
    cache = EngineCache(args.cache_dir, device=args.device)
    for precision in precisions:
        if args.output is None:
            path = cache.get_or_build(args.onnx, precision, force=args.force, progress=_say,
                                      options=options)
        else:
            folder_output = len(precisions) > 1 or args.output.is_dir()
            path = (args.output / engine_file_name(args.onnx, precision) if folder_output
                    else args.output)
            loader = EngineFromOnnx(args.onnx, precision, progress=_say, device=args.device,
                                    timing_cache=args.timing_cache or cache.timing_cache_path,
                                    **options)
            SaveEngine(loader, path)()
        print(f'{precision}: {path}')
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Build engines; exit 1 with one line on a known error, 2 on bad arguments."""
    args = make_parser().parse_args(argv)
    try:
        return run(args)
    except AccelAiError as error:
        print(f'{PROG}: error: {" ".join(str(error).split())}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f'{PROG}: interrupted; no partial engine was written', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
