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

"""Build TensorRT engines from ONNX: small callables named for what they make.

In the style of Polygraphy: ``SaveEngine(EngineFromOnnx('m.onnx', 'fp16'), 'm.engine')()``.

Precision on TensorRT 11 comes from the ONNX model itself (strong typing): an FP16 model
builds an FP16 engine, a model with QuantizeLinear/DequantizeLinear (Q/DQ) nodes an INT8 one;
``BuilderFlag.FP16``/``INT8`` and calibrators are gone. On TensorRT 10 ``legacy_flags`` still
sets those flags for users who rely on them. :func:`precision_build_plan` (flags per TensorRT
major version) and :func:`inspect_onnx` / :func:`check_precision_request` (does the model
fit the request?) are pure and tested without TensorRT; the classes below are a thin adapter.
"""

import contextlib
from dataclasses import dataclass
import fcntl
import logging
from pathlib import Path
import re
import time
from typing import Any
from typing import Callable
from typing import Dict
from typing import Iterator
from typing import List
from typing import Mapping
from typing import Optional
from typing import Tuple
from typing import TYPE_CHECKING
from typing import Union

from accel_ai_ros.backends.tensorrt.manifest import atomic_write
from accel_ai_ros.backends.tensorrt.manifest import EngineManifest
from accel_ai_ros.backends.tensorrt.manifest import load_onnx_structure
from accel_ai_ros.backends.tensorrt.manifest import make_manifest
from accel_ai_ros.backends.tensorrt.manifest import write_manifest
from accel_ai_ros.backends.tensorrt.profile_shapes import check_profile_shapes
from accel_ai_ros.backends.tensorrt.profile_shapes import ProfileShapes
from accel_ai_ros.backends.tensorrt.util import device_platform
from accel_ai_ros.backends.tensorrt.util import dims_list
from accel_ai_ros.backends.tensorrt.util import import_tensorrt
from accel_ai_ros.backends.tensorrt.util import TrtLog
from accel_ai_ros.errors import collapse_whitespace
from accel_ai_ros.errors import EngineError
from accel_ai_ros.errors import ParameterError
from accel_ai_ros.fileio import PathLike
from accel_ai_ros.gpu import cuda
from accel_ai_ros.params import PRECISIONS

if TYPE_CHECKING:
    import tensorrt as trt_types  # noqa: F401 - used in string annotations

logger = logging.getLogger('accel_ai_ros')

Progress = Callable[[str], None]


VARIANTS_HINT = 'make one with make_variants (or NVIDIA ModelOpt AutoCast)'
QDQ_HINT = ('quantize the model with Q/DQ nodes: make_variants, '
            'onnxruntime.quantization.quantize_static(..., quant_format=QuantFormat.QDQ) or '
            'NVIDIA ModelOpt')
_QOPERATOR_OPS = frozenset({'QLinearConv', 'QLinearMatMul', 'ConvInteger', 'MatMulInteger',
                            'QLinearAdd', 'QLinearMul', 'QLinearSigmoid', 'QLinearConcat',
                            'QLinearGlobalAveragePool', 'QLinearLeakyRelu', 'QGemm'})
_ONNX_FLOAT, _ONNX_FLOAT16, _ONNX_BFLOAT16 = 1, 10, 16


# -- pure decisions --------------------------------------------------------------------------

def trt_major(version: str) -> int:
    """Return the major number of a TensorRT version string ('10.3.0.26' -> 10)."""
    match = re.match(r'\s*(\d+)', str(version))
    if not match:
        raise ParameterError(f'cannot read a TensorRT version from {version!r}')
    return int(match.group(1))


@dataclass(frozen=True)
class BuildPlan:
    """How to build one precision: network creation mode and builder flags (by name)."""

    precision: str
    strongly_typed: bool
    flags: Tuple[str, ...]
    #: Flags that TensorRT sets by default and this precision clears: TF32 for fp32, so that
    #: an fp32 engine computes in FP32 like the PyTorch backend (which turns TF32 off).
    cleared_flags: Tuple[str, ...] = ()


def precision_build_plan(precision: str, major: int, legacy_flags: bool = False,
                         strongly_typed: Union[str, bool] = 'auto') -> BuildPlan:
    """Decide network typing and builder flags for ``precision`` on TensorRT ``major``.

    TensorRT 11 builds every network strongly typed and has no precision flags: asking for
    ``legacy_flags`` there raises ParameterError. On TensorRT 10 ``strongly_typed='auto'``
    means strongly typed unless ``legacy_flags`` asks for weak typing with BuilderFlag.FP16
    (fp16) or FP16+INT8 (int8: layers without Q/DQ scales fall back to FP16).
    """
    if precision not in PRECISIONS:
        raise ParameterError(f'precision {precision!r} is not supported; use one of '
                             f'{", ".join(PRECISIONS)}')
    cleared = ('TF32',) if precision == 'fp32' else ()
    if strongly_typed not in ('auto', True, False):
        raise ParameterError(f"strongly_typed must be 'auto', true or false, got "
                             f'{strongly_typed!r}')
    if major < 10:
        raise ParameterError(f'TensorRT {major}.x is too old: accel_ai_ros needs TensorRT 10 '
                             f'or newer (JetPack 6 on Jetson)')
    if major >= 11:
        if legacy_flags:
            raise ParameterError(
                f'legacy_flags (BuilderFlag.FP16/INT8) were removed in TensorRT {major}; the '
                f'precision comes from the ONNX model: for fp16 {VARIANTS_HINT}, for int8 '
                f'{QDQ_HINT}')
        if strongly_typed is False:
            logger.warning('TensorRT %d builds every network strongly typed; '
                           'strongly_typed=false is ignored', major)
        return BuildPlan(precision, True, (), cleared)
    if legacy_flags:
        if strongly_typed is True:
            raise ParameterError('legacy_flags need a weakly typed network; drop '
                                 'strongly_typed=true or legacy_flags')
        flags = {'fp32': (), 'fp16': ('FP16',), 'int8': ('FP16', 'INT8')}[precision]
        return BuildPlan(precision, False, flags, cleared)
    return BuildPlan(precision, strongly_typed is not False, (), cleared)


@dataclass(frozen=True)
class OnnxPrecision:
    """What numeric types an ONNX model carries, as far as engine precision goes."""

    float_type: str  # 'fp32', 'fp16', 'bf16' or 'none': the type most float weights have
    qdq_nodes: int
    nonstandard_qdq: int  # Q/DQ nodes outside the ONNX domain (TensorRT cannot parse them)
    qoperator_ops: Tuple[str, ...]  # QLinearConv & co. (TensorRT cannot parse them)


def _graphs(graph: Any) -> List[Any]:
    """Return ``graph`` and every subgraph nested in its nodes' attributes."""
    found = [graph]
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField('g'):
                found.extend(_graphs(attr.g))
            for sub in attr.graphs:
                found.extend(_graphs(sub))
    return found


def inspect_onnx(path: PathLike) -> OnnxPrecision:
    """Read an ONNX file's weight types and quantization nodes (no weights loaded)."""
    model = load_onnx_structure(path)
    elements = {_ONNX_FLOAT: 0, _ONNX_FLOAT16: 0, _ONNX_BFLOAT16: 0}
    qdq = nonstandard = 0
    qoperators = set()
    for graph in _graphs(model.graph):
        tensors = list(graph.initializer)
        for node in graph.node:
            tensors.extend(attr.t for attr in node.attribute if attr.HasField('t'))
            if node.op_type in ('QuantizeLinear', 'DequantizeLinear'):
                if node.domain in ('', 'ai.onnx'):
                    qdq += 1
                else:
                    nonstandard += 1
            elif node.op_type in _QOPERATOR_OPS:
                qoperators.add(node.op_type)
        for tensor in tensors:
            if tensor.data_type in elements:
                count = 1
                for dim in tensor.dims:
                    count *= int(dim)
                elements[tensor.data_type] += count
    names = {_ONNX_FLOAT: 'fp32', _ONNX_FLOAT16: 'fp16', _ONNX_BFLOAT16: 'bf16'}
    top = max(elements, key=lambda key: elements[key])
    float_type = names[top] if elements[top] else 'none'
    return OnnxPrecision(float_type, qdq, nonstandard, tuple(sorted(qoperators)))


def check_precision_request(precision: str, info: OnnxPrecision, major: int,
                            legacy_flags: bool = False) -> List[str]:
    """Check that the model can give a ``precision`` engine; return warnings.

    Raises ParameterError, with the fix, when the engine cannot be built as asked: QOperator
    or non-standard Q/DQ quantization (TensorRT parses neither), or int8 without Q/DQ nodes
    under strong typing.
    """
    if info.qoperator_ops:
        raise ParameterError(
            f'the model uses {", ".join(info.qoperator_ops)} (QOperator quantization), which '
            f'TensorRT cannot parse; re-quantize it in QDQ format '
            f'(quantize_static(..., quant_format=QuantFormat.QDQ))')
    if info.nonstandard_qdq:
        raise ParameterError(
            f'the model has {info.nonstandard_qdq} QuantizeLinear/DequantizeLinear node(s) '
            f'outside the standard ONNX domain (com.microsoft), which TensorRT cannot parse; '
            f're-quantize with 8-bit types in QDQ format')
    strong = major >= 11 or not legacy_flags
    warnings = []
    if precision == 'int8' and not info.qdq_nodes:
        if strong:
            raise ParameterError(
                f'int8 needs a model with QuantizeLinear/DequantizeLinear (Q/DQ) nodes under '
                f'TensorRT {major} strong typing, and this one has none; {QDQ_HINT}')
        warnings.append('the model has no Q/DQ nodes and no calibrator is used: layers '
                        'without scales run in FP16/FP32, not INT8; quantize the model '
                        'with Q/DQ nodes for a real INT8 engine')
    if precision == 'fp16' and strong and info.float_type != 'fp16':
        fix = VARIANTS_HINT + ('' if major >= 11 else ', or pass --legacy-flags')
        warnings.append(f'an fp16 engine from this {info.float_type.upper()} model runs in '
                        f'{info.float_type.upper()}: TensorRT {major} takes the precision from '
                        f'the model (strong typing); for a real FP16 engine use an FP16 model: '
                        f'{fix}')
    if precision == 'fp32' and info.float_type in ('fp16', 'bf16'):
        warnings.append(f'the model holds {info.float_type.upper()} weights, so this fp32 '
                        f'engine runs in {info.float_type.upper()}; build fp32 from the FP32 '
                        f'model')
    if precision != 'int8' and info.qdq_nodes:
        warnings.append(f'the model has {info.qdq_nodes} Q/DQ nodes: those layers run in INT8 '
                        f'whatever the requested precision ({precision})')
    return warnings


#: Every build option and its default: the options that change the engine.
BUILD_OPTION_DEFAULTS: Dict[str, Any] = {
    'workspace_mb': 0, 'profile_shapes': {}, 'dla_core': -1, 'strongly_typed': 'auto',
    'legacy_flags': False,
}


def normalize_build_options(options: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Return ``options`` with every default filled in and every value in one form.

    Cache keys and manifests hash this, so an engine built by build_engine (which passes
    every option) and one the node asks for (which passes none) get the same key. Raises
    ParameterError for an unknown option or an invalid profile.
    """
    given = dict(options or {})
    unknown = sorted(set(given) - set(BUILD_OPTION_DEFAULTS))
    if unknown:
        raise ParameterError(f'unknown build option(s) {", ".join(unknown)}; known: '
                             f'{", ".join(BUILD_OPTION_DEFAULTS)}')
    merged = {**BUILD_OPTION_DEFAULTS, **given}
    profile = check_profile_shapes(merged['profile_shapes'] or {})
    strongly_typed = merged['strongly_typed']
    if strongly_typed not in ('auto', True, False):
        raise ParameterError(f"strongly_typed must be 'auto', true or false, got "
                             f'{strongly_typed!r}')
    if int(merged['workspace_mb']) < 0:
        raise ParameterError(f'workspace_mb must be >= 0, got {merged["workspace_mb"]}')
    return {
        'workspace_mb': int(merged['workspace_mb']),
        'profile_shapes': {name: [list(s) for s in shapes]
                           for name, shapes in sorted(profile.items())},
        'dla_core': int(merged['dla_core']),
        'strongly_typed': strongly_typed,
        'legacy_flags': bool(merged['legacy_flags']),
    }


def check_dla_request(dla_core: int, precision: str, info: OnnxPrecision, major: int,
                      profile: ProfileShapes, legacy_flags: bool = False) -> None:
    """Refuse DLA builds that would silently run on the GPU or that DLA cannot take.

    "DLA support is currently limited to networks running in FP16 and INT8 mode" (TensorRT
    developer guide): with GPU_FALLBACK an FP32 network puts every layer back on the GPU.
    Under strong typing the model's own types decide, under legacy flags the precision.
    DLA also needs the optimization profile's min, opt and max shapes to be equal.
    """
    if dla_core < 0:
        return
    strong = major >= 11 or not legacy_flags
    runs_fp32 = (info.float_type in ('fp32', 'none') and not info.qdq_nodes if strong
                 else precision == 'fp32')
    if runs_fp32:
        raise ParameterError(
            f'dla_core {dla_core} with a{"n FP32 model" if strong else " fp32 build"}: DLA '
            f'runs FP16 and INT8 networks only, so every layer would fall back to the GPU; '
            f'build fp16 from an FP16 model or int8 from a Q/DQ model ({VARIANTS_HINT}), '
            f'or build for the GPU (dla_core -1)')
    for name, (low, opt, high) in check_profile_shapes(profile).items():
        if not low == opt == high:
            raise ParameterError(
                f'dla_core {dla_core}: DLA needs equal min, opt and max shapes, but input '
                f'{name!r} has min {low}, opt {opt}, max {high}; give one fixed shape or '
                f'build for the GPU (dla_core -1)')


class ProgressPrinter:
    """Turn TensorRT build progress (phases and steps) into a few readable lines."""

    def __init__(self, emit: Progress, min_interval_s: float = 2.0) -> None:
        self.emit = emit
        self.min_interval_s = min_interval_s
        self._steps: Dict[str, int] = {}
        self._last = 0.0
        #: Why progress reports stopped (an exception from ``emit``), or None.
        self.error: Optional[BaseException] = None
        #: Set by Ctrl-C inside a callback: the next step cancels the build.
        self.interrupted = False

    def _say(self, line: str) -> None:
        """Emit ``line``; never let an exception out into TensorRT.

        TensorRT's binding turns an exception in a callback into a cancelled build reported
        as a build failure. A failing ``emit`` (broken pipe) only stops the reports; Ctrl-C
        cancels the build on the next step and is re-raised after it
        (:meth:`raise_if_interrupted`).
        """
        if self.error is not None:
            return
        try:
            self.emit(line)
        except KeyboardInterrupt as error:
            self.error, self.interrupted = error, True
        except BaseException as error:  # noqa: B902 - nothing may escape into TensorRT
            self.error = error
            logger.warning('build progress reports stopped: %s: %s', type(error).__name__,
                           collapse_whitespace(error))

    def phase_start(self, phase: str, parent: Optional[str], num_steps: int) -> None:
        """Note that ``phase`` began with ``num_steps`` steps; announce top-level phases."""
        self._steps[phase] = max(int(num_steps), 1)
        if not parent:
            self._say(f'building: {phase} ({num_steps} steps)')

    def step_complete(self, phase: str, step: int) -> bool:
        """Report a finished step at most every ``min_interval_s``; False cancels (Ctrl-C)."""
        now = time.monotonic()
        if now - self._last >= self.min_interval_s:
            self._last = now
            total = self._steps.get(phase, 0)
            self._say(f'building: {phase} {step + 1}/{total}' if total else
                      f'building: {phase} step {step + 1}')
        return not self.interrupted

    def raise_if_interrupted(self) -> None:
        """Raise KeyboardInterrupt when Ctrl-C arrived inside a callback."""
        if self.interrupted:
            raise KeyboardInterrupt('interrupted during the TensorRT build')

    def phase_finish(self, phase: str) -> None:
        """Forget a finished phase."""
        self._steps.pop(phase, None)


# -- TensorRT adapter ------------------------------------------------------------------------

def _progress_monitor(printer: ProgressPrinter) -> Any:
    """Return a ``trt.IProgressMonitor`` forwarding to ``printer`` (None if unsupported)."""
    import tensorrt as trt
    if not hasattr(trt, 'IProgressMonitor'):
        return None

    class _Monitor(trt.IProgressMonitor):  # type: ignore[misc]
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)

        def phase_start(self, phase_name: str, parent_phase: Optional[str],
                        num_steps: int) -> None:
            try:
                printer.phase_start(phase_name, parent_phase, num_steps)
            except KeyboardInterrupt:
                printer.interrupted = True

        def step_complete(self, phase_name: str, step: int) -> bool:
            try:
                return printer.step_complete(phase_name, step)
            except KeyboardInterrupt:
                printer.interrupted = True
                return False

        def phase_finish(self, phase_name: str) -> None:
            try:
                printer.phase_finish(phase_name)
            except KeyboardInterrupt:
                printer.interrupted = True

    return _Monitor()


@contextlib.contextmanager
def timing_cache_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<path>.lock`` (every process and thread that builds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + '.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_timing_cache(path: Path) -> bytes:
    """Return the timing cache file's bytes under its lock (empty when there is none)."""
    with timing_cache_lock(path):
        return path.read_bytes() if path.is_file() else b''


def merge_timing_cache(path: Path, current: 'trt_types.ITimingCache',
                       create: Callable[[bytes], 'trt_types.ITimingCache']) -> None:
    """Save ``current`` (an ``ITimingCache``) to ``path`` without losing others' entries.

    As Polygraphy does: under the file lock, re-read the file (another build may have saved
    since this one started), ``combine`` it into ``current`` with ``ignore_mismatch=True``
    and write the result atomically. ``create`` is ``config.create_timing_cache``.
    """
    with timing_cache_lock(path):
        if path.is_file() and path.stat().st_size:
            try:
                previous = create(path.read_bytes())
            except (RuntimeError, TypeError, ValueError) as error:
                logger.warning('ignoring unreadable timing cache %s: %s', path, error)
                previous = None
            if previous is not None and not current.combine(previous, True):
                logger.warning('could not combine the timing cache %s into the new one; '
                               'saving the new one only', path)
        atomic_write(path, bytes(memoryview(current.serialize())))


class NetworkFromOnnx:
    """Parse an ONNX file into ``(builder, network, parser)``; keep all three alive."""

    def __init__(self, onnx_path: PathLike, strongly_typed: bool = True) -> None:
        self.onnx_path = Path(onnx_path)
        self.strongly_typed = strongly_typed

    def __call__(self) -> Tuple['trt_types.Builder', 'trt_types.INetworkDefinition',
                                'trt_types.OnnxParser']:
        """Create the builder and network and parse the model; EngineError on parse errors."""
        import_tensorrt()
        import tensorrt as trt
        if not self.onnx_path.is_file():
            raise EngineError(f'ONNX model {str(self.onnx_path)!r} does not exist; check the '
                              f'path')
        builder = trt.Builder(TrtLog.get())
        flags = 0
        if self.strongly_typed:
            flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
        network = builder.create_network(flags)
        parser = trt.OnnxParser(network, TrtLog.get())
        if not parser.parse_from_file(str(self.onnx_path)):
            errors = [collapse_whitespace(parser.get_error(i))
                      for i in range(parser.num_errors)]
            raise EngineError(f'TensorRT cannot parse {str(self.onnx_path)!r}: '
                              f'{"; ".join(errors[:3]) or "no detail"}; simplify or re-export '
                              f'the model (opset 13-17) or check the operator support matrix')
        return builder, network, parser


class EngineFromOnnx:
    """Build a serialized engine (bytes) from an ONNX file; ``manifest`` describes it after.

    ``workspace_mb`` 0 leaves TensorRT's default; ``profile_shapes`` maps dynamic inputs to
    (min, opt, max); ``dla_core`` >= 0 builds for that Jetson DLA core with GPU fallback;
    ``timing_cache`` is a file read before and rewritten (atomically) after the build.
    """

    def __init__(
        self, onnx_path: PathLike, precision: str = 'fp32', workspace_mb: int = 0,
        profile_shapes: Optional[ProfileShapes] = None, dla_core: int = -1,
        timing_cache: Optional[PathLike] = None, strongly_typed: Union[str, bool] = 'auto',
        legacy_flags: bool = False, progress: Optional[Progress] = None, device: int = 0,
    ) -> None:
        if precision not in PRECISIONS:
            raise ParameterError(f'precision {precision!r} is not supported; use one of '
                                 f'{", ".join(PRECISIONS)}')
        if int(workspace_mb) < 0:
            raise ParameterError(f'workspace_mb must be >= 0, got {workspace_mb}')
        self.onnx_path = Path(onnx_path)
        self.precision = precision
        self.workspace_mb = int(workspace_mb)
        self.profile_shapes = check_profile_shapes(profile_shapes or {})
        self.dla_core = int(dla_core)
        self.timing_cache = Path(timing_cache) if timing_cache else None
        self.strongly_typed = strongly_typed
        self.legacy_flags = bool(legacy_flags)
        self.progress = progress
        self.device = int(device)
        self.manifest: Optional[EngineManifest] = None

    def options(self) -> Dict[str, Any]:
        """Return the build options that change the engine (for cache keys and manifests)."""
        return normalize_build_options({
            'workspace_mb': self.workspace_mb, 'profile_shapes': self.profile_shapes,
            'dla_core': self.dla_core, 'strongly_typed': self.strongly_typed,
            'legacy_flags': self.legacy_flags,
        })

    def __call__(self) -> bytes:
        """Build and return the serialized engine."""
        import_tensorrt()
        import tensorrt as trt
        # The builder builds on the calling thread's current device (its primary context).
        cuda.make_current(self.device)
        platform = device_platform(self.device)
        major = trt_major(trt.__version__)
        plan = precision_build_plan(self.precision, major, self.legacy_flags,
                                    self.strongly_typed)
        if not self.onnx_path.is_file():
            raise EngineError(f'ONNX model {str(self.onnx_path)!r} does not exist; check the '
                              f'path')
        info = inspect_onnx(self.onnx_path)
        for warning in check_precision_request(self.precision, info, major, self.legacy_flags):
            logger.warning('%s: %s', self.onnx_path.name, warning)
        check_dla_request(self.dla_core, self.precision, info, major, self.profile_shapes,
                          self.legacy_flags)
        builder, network, _parser = NetworkFromOnnx(self.onnx_path, plan.strongly_typed)()
        config = builder.create_builder_config()
        if self.workspace_mb:
            config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, self.workspace_mb << 20)
        for flag in plan.flags:
            config.set_flag(getattr(trt.BuilderFlag, flag))
        for flag in plan.cleared_flags:
            if hasattr(trt.BuilderFlag, flag):
                config.clear_flag(getattr(trt.BuilderFlag, flag))
        # DETAILED lets IEngineInspector report the precision each layer really runs.
        config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
        self._add_profile(trt, builder, network, config)
        if self.dla_core >= 0:
            if self.dla_core >= builder.num_DLA_cores:
                raise ParameterError(f'dla_core {self.dla_core} does not exist: this device '
                                     f'has {builder.num_DLA_cores} DLA core(s)')
            config.default_device_type = trt.DeviceType.DLA
            config.DLA_core = self.dla_core
            config.set_flag(trt.BuilderFlag.GPU_FALLBACK)
        if self.timing_cache is not None:
            data = read_timing_cache(self.timing_cache)
            if not config.set_timing_cache(config.create_timing_cache(data), False):
                logger.warning('timing cache %s was made by another TensorRT version or GPU; '
                               'starting an empty one (it is merged back after the build)',
                               self.timing_cache)
                config.set_timing_cache(config.create_timing_cache(b''), False)
        printer = ProgressPrinter(self.progress) if self.progress else None
        monitor = _progress_monitor(printer) if printer is not None else None
        if monitor is not None:
            config.progress_monitor = monitor
        elif self.progress:
            self.progress(f'building {self.precision} engine from {self.onnx_path.name} '
                          f'(this takes minutes)')
        TrtLog.take_errors()
        serialized = builder.build_serialized_network(network, config)
        if printer is not None:
            printer.raise_if_interrupted()
        if serialized is None:
            raise EngineError(f'TensorRT failed to build {self.precision} engine from '
                              f'{str(self.onnx_path)!r}: '
                              f'{"; ".join(TrtLog.take_errors()[-3:]) or "no detail"}; '
                              f'try a larger --workspace-mb or check the profile shapes')
        if self.timing_cache is not None:
            merge_timing_cache(self.timing_cache, config.get_timing_cache(),
                               config.create_timing_cache)
        self.manifest = make_manifest(platform, self.precision, self.onnx_path, self.options())
        return bytes(memoryview(serialized))

    def _add_profile(self, trt: Any, builder: 'trt_types.Builder',
                     network: 'trt_types.INetworkDefinition',
                     config: 'trt_types.IBuilderConfig') -> None:
        """Add the optimization profile; refuse dynamic inputs that have none."""
        dynamic = []
        for index in range(network.num_inputs):
            tensor = network.get_input(index)
            shape = dims_list(tensor.shape)
            if any(d < 0 for d in shape) and tensor.name not in self.profile_shapes:
                dynamic.append(f'{tensor.name}{shape}')
        if dynamic:
            raise ParameterError(
                f'input(s) {", ".join(dynamic)} have dynamic dimensions; give their range: '
                f'build_engine --min-shape input:1x3x320x320 --opt-shape input:1x3x640x640 '
                f"--max-shape input:1x3x1280x1280, or in the node's parameter file "
                f'engine_profile.min/opt/max')
        if not self.profile_shapes:
            return
        profile = builder.create_optimization_profile()
        for name, (low, opt, high) in self.profile_shapes.items():
            profile.set_shape(name, trt.Dims(list(low)), trt.Dims(list(opt)),
                              trt.Dims(list(high)))
        if config.add_optimization_profile(profile) < 0:
            raise ParameterError(
                f'TensorRT refused the optimization profile '
                f'{self.options()["profile_shapes"]} '
                f'({"; ".join(TrtLog.take_errors()) or "no detail"}); every input name must be '
                f'a network input and every shape must have its rank')


class SaveEngine:
    """Write an engine (bytes, or a loader returning bytes) atomically, manifest beside it.

    ``manifest`` defaults to the loader's own (:class:`EngineFromOnnx` sets one).
    """

    def __init__(self, engine: Union[bytes, Callable[[], bytes]], path: PathLike,
                 manifest: Optional[EngineManifest] = None) -> None:
        self.engine = engine
        self.path = Path(path)
        self.manifest = manifest

    def __call__(self) -> Path:
        """Build if needed, write the engine and its manifest; return the engine path."""
        data = self.engine if isinstance(self.engine, (bytes, bytearray)) else self.engine()
        if not data:
            raise EngineError(f'refusing to write an empty engine to {str(self.path)!r}; the '
                              f'build produced nothing')
        manifest = self.manifest or getattr(self.engine, 'manifest', None)
        atomic_write(self.path, bytes(data))
        if isinstance(manifest, EngineManifest):
            write_manifest(self.path, manifest)
        return self.path


def engine_file_name(onnx_path: PathLike, precision: str, suffix: str = '.engine') -> str:
    """Return e.g. 'yolo.fp16.engine' for ('models/yolo.onnx', 'fp16')."""
    return f'{Path(onnx_path).stem}.{precision}{suffix}'
