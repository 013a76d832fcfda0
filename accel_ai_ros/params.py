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

"""Every parameter of the inference node in one table, and the rules that check them.

The node's own parameters are declared here; each task's come from its module
(:mod:`accel_ai_ros.tasks`), and the choices of ``task`` and ``backend`` from the registries
that own them. This module is free of rclpy: the node turns :data:`PARAMETERS` into
``ParameterDescriptor`` values and calls :func:`validate` from its single
``on_set_parameters`` callback, which is registered before any parameter is declared, so
values from a ``--params-file`` are checked too. ``config/defaults.yaml`` mirrors the
defaults; a test keeps the two equal.
"""

import difflib
import os
from pathlib import Path
from typing import Any
from typing import Dict
from typing import List
from typing import Mapping
from typing import Optional
from typing import Sequence
from typing import Tuple
from typing import Union

from accel_ai_ros.backends.registry import BACKENDS
from accel_ai_ros.backends.registry import SCHEMES
from accel_ai_ros.backends.registry import url_scheme
from accel_ai_ros.backends.tensorrt.profile_shapes import profile_from_parameters
from accel_ai_ros.backends.tensorrt.profile_shapes import PROFILE_PARAMETERS
from accel_ai_ros.backends.triton.url import SHARED_MEMORY_MODES
from accel_ai_ros.errors import collapse_whitespace
from accel_ai_ros.errors import ParameterError
from accel_ai_ros.image_header import DEFAULT_MAX_IMAGE_PIXELS
from accel_ai_ros.image_header import OPENCV_MAX_PIXELS
from accel_ai_ros.param_spec import check_value
from accel_ai_ros.param_spec import ParamSpec
from accel_ai_ros.preprocess import PARAMETERS as PREPROCESSING_PARAMETERS
from accel_ai_ros.tasks.registry import TASK_NAMES
from accel_ai_ros.tasks.registry import task_parameters
from accel_ai_ros.tasks.registry import TASKS

PRECISIONS = ('fp32', 'fp16', 'int8')
BACKEND_CHOICES = ('auto',) + BACKENDS
TRANSPORT_CHOICES = ('raw', 'compressed')


def _p(name: str, default: Any, description: str, **kw: Any) -> ParamSpec:
    return ParamSpec(name, default, description, **kw)


PARAMETERS: Tuple[ParamSpec, ...] = (
    # -- engines -------------------------------------------------------------------------
    _p('precision', 'fp32', 'Precision whose engine runs now; set it at run time to swap '
       'engines between two frames. Must name a configured engines.<precision>.',
       choices=PRECISIONS),
    _p('engines.fp32', '', 'Model or engine file for FP32 (.onnx, .engine/.plan, .pt2); '
       'relative paths are resolved against model_dir.', read_only=True),
    _p('engines.fp16', '', 'Model or engine file for FP16 (empty: not configured).',
       read_only=True),
    _p('engines.int8', '', 'Model or engine file for INT8 (empty: not configured).',
       read_only=True),
    _p('onnx_sources.fp32', '', 'ONNX file a TensorRT FP32 engine is built from when '
       'engines.fp32 is missing or was built by another TensorRT version or GPU.',
       read_only=True),
    _p('onnx_sources.fp16', '', 'ONNX file (an FP16 model) the TensorRT FP16 engine is built '
       'from.', read_only=True),
    _p('onnx_sources.int8', '', 'ONNX file (a Q/DQ model) the TensorRT INT8 engine is built '
       'from.', read_only=True),
    _p('engine_profile.min', '', 'Smallest shape of each dynamic input of the ONNX sources, as '
       'trtexec writes it: name:1x3x320x320 (several inputs separated by commas); with .opt '
       'and .max the optimization profile of engines built from onnx_sources (empty: the '
       'sources have static shapes).', read_only=True),
    _p('engine_profile.opt', '', 'Shape TensorRT tunes engines built from onnx_sources for '
       '(name:1x3x640x640, several separated by commas).', read_only=True),
    _p('engine_profile.max', '', 'Largest shape of each dynamic input of the ONNX sources '
       '(name:1x3x1280x1280, several separated by commas).', read_only=True),
    _p('engine_cache_dir', '', 'Folder of built TensorRT engines, keyed by GPU, TensorRT '
       'version, precision and ONNX hash (empty: ~/.cache/accel_ai_ros/engines).',
       read_only=True),
    _p('force_engine_update', False, 'Rebuild TensorRT engines from their ONNX sources even '
       'when a cached engine fits.', read_only=True),
    _p('allow_engine_plugins', False, 'Let TensorRT run plugin host code embedded in an '
       'engine file (only for engines you trust).', read_only=True),
    _p('prebuild_engines', False, 'On activate, also load (building TensorRT engines where '
       'needed) and warm up every other configured precision, so that the first swap to '
       'each is instant; ~/ready turns true once all are ready.', read_only=True),
    _p('gpu_device', 0, 'CUDA device the GPU backends run on.', read_only=True, min_value=0,
       max_value=64),
    _p('gil_switch_interval_ms', 0.5, "Python's GIL switch interval for this process, set "
       'when the node starts if it is longer (0: leave it, Python uses 5 ms). The worker gives '
       'the GIL up at each GPU call and may wait this long to get it back while another '
       'thread (executor, a camera in the same process) runs; see docs/gpu.md.',
       read_only=True, min_value=0.0, max_value=10.0),
    _p('model_dir', '', 'Folder that relative engine, labels and report paths are resolved '
       'against (empty: the current directory).', read_only=True),
    _p('backend', 'auto', 'Inference backend; auto picks it from the file suffix.',
       read_only=True, choices=BACKEND_CHOICES),
    _p('providers', ['CPUExecutionProvider'], 'ONNX Runtime execution providers, in order '
       'of preference (CUDAExecutionProvider, TensorrtExecutionProvider where installed).',
       read_only=True),
    _p('intra_op_threads', 0, 'CPU threads ONNX Runtime may use for one inference '
       '(0: its default).', read_only=True, min_value=0, max_value=256),
    _p('triton.timeout_ms', 1000.0, 'Longest wait for one Triton request (backend triton, '
       'engines.<precision>: triton://host:8001/model/version); a frame without an answer '
       'by then is counted as failed.', read_only=True, min_value=1.0, max_value=600000.0),
    _p('triton.shared_memory', 'auto', 'How tensors reach a Triton server: auto uses system '
       'shared memory when the server is on this host and the wire otherwise, system '
       'insists on shared memory, off always sends them over gRPC or HTTP.', read_only=True,
       choices=SHARED_MEMORY_MODES),
    _p('share_engine', False, 'Share the engine with the other inference nodes of this '
       'process that load the same one (several cameras in one component_container): it '
       'is loaded once, and frames waiting together run as one batch.', read_only=True),
    _p('max_batch', 8, 'Most frames a shared engine runs in one call (share_engine; an '
       'engine with a fixed batch N takes at most N).', read_only=True, min_value=1,
       max_value=64),
    _p('precision_report', '', 'Trade-off report (report.json of benchmark precision) '
       'with the measured accuracy and latency of each precision (empty: none).',
       read_only=True),
    _p('use_recommended_precision', False, 'Start from the fastest configured precision '
       'that the report says meets min_accuracy and max_latency_ms.', read_only=True),
    _p('min_accuracy', 0.0, 'Refuse a precision whose measured accuracy in the report is '
       'below this (0: no floor).', min_value=0.0, max_value=1.0),
    _p('max_latency_ms', 0.0, 'Latency limit (p50) for use_recommended_precision '
       '(0: no limit).', read_only=True, min_value=0.0, max_value=60000.0),
    _p('autostart', True, 'Configure and activate the lifecycle node by itself at start-up, '
       'for ros2 run users without a lifecycle manager.', read_only=True),
    # -- input ---------------------------------------------------------------------------
    _p('input_transport', 'raw', 'raw subscribes to image (sensor_msgs/Image); compressed '
       'subscribes to image/compressed (sensor_msgs/CompressedImage, JPEG or PNG).',
       read_only=True, choices=TRANSPORT_CHOICES),
    _p('qos_depth', 5, 'History depth of the sensor-data QoS subscription. The callback moves '
       'every frame into a latest-wins slot at once, so a deeper history never makes a '
       'backlog; it keeps DDS from overwriting frames that the node would never see or count '
       '(docs/architecture.md has the measurement).', read_only=True,
       min_value=1, max_value=100),
    _p('max_frame_age_ms', 0.0, 'Drop (and count) a frame that waited longer than this '
       'before inference starts (0: no limit).', min_value=0.0, max_value=60000.0),
    _p('max_image_pixels', DEFAULT_MAX_IMAGE_PIXELS, 'Reject (and count) an image of more '
       "pixels than this, read from a compressed image's header before anything is decoded: "
       'a decompression bomb costs nothing. The default, 16 Mi pixels (4096x4096; 4K UHD '
       'and 12 MP fit), keeps a decoded image under 50 MB; raise it for larger cameras.',
       min_value=1, max_value=OPENCV_MAX_PIXELS),
    _p('no_frame_warning_s', 5.0, 'Warn once when the image topic has publishers but no '
       'frame arrived for this long.', read_only=True, min_value=0.5, max_value=3600.0),
    # -- preprocessing -------------------------------------------------------------------
) + PREPROCESSING_PARAMETERS + (
    _p('input_width', 0, 'Model input width for engines with a dynamic width '
       '(0: read it from the engine).', read_only=True, min_value=0, max_value=16384),
    _p('input_height', 0, 'Model input height for engines with a dynamic height '
       '(0: read it from the engine).', read_only=True, min_value=0, max_value=16384),
    # -- postprocessing ------------------------------------------------------------------
    _p('task', 'classification', 'What the outputs mean: '
       + '; '.join(f'{t.name}: {t.description}' for t in TASKS.values()) + '.',
       read_only=True, choices=TASK_NAMES),
    _p('labels_file', '', 'Text file with one class label per line (empty: class indices).',
       read_only=True),
) + task_parameters() + (
    # -- outputs -------------------------------------------------------------------------
    _p('publish_raw', False, 'Also publish the output tensors on ~/output '
       '(std_msgs/Float32MultiArray).'),
    _p('publish_annotated', False, 'Also publish ~/image_annotated with boxes or labels '
       'drawn.'),
    _p('diagnostics_period_s', 1.0, 'Period of the /diagnostics status.', read_only=True,
       min_value=0.1, max_value=60.0),
    # -- monitoring and adaptive precision (docs/diagnostics.md, docs/adaptive.md) --------
    _p('system_monitoring_period_s', 1.0, 'Period of the process, system and GPU sampling '
       '(psutil, NVML, jtop or tegrastats) on its own thread (0: off).', read_only=True,
       min_value=0.0, max_value=60.0),
    _p('latency_budget_ms', 0.0, 'Receipt-to-publish latency a frame should meet: '
       '/diagnostics warns when the p99 over health_window_s is over it, and adaptive '
       'precision keeps the p95 under it (0: no budget).', min_value=0.0,
       max_value=60000.0),
    _p('health_window_s', 10.0, 'Window of the frame shares and latency percentiles that '
       'set the /diagnostics level.', read_only=True, min_value=1.0, max_value=3600.0),
    _p('drop_rate_warn', 0.2, 'Share of received frames dropped (overtaken, stale, no '
       'engine) over the window above which /diagnostics warns and adaptive precision '
       'steps down.', min_value=0.0, max_value=1.0),
    _p('failure_warn_ratio', 0.1, 'Share of failed or rejected frames over the window at '
       'which /diagnostics turns WARN.', min_value=0.0, max_value=1.0),
    _p('failure_error_ratio', 0.5, 'Share of failed or rejected frames over the window at '
       'which /diagnostics turns ERROR.', min_value=0.0, max_value=1.0),
    _p('no_image_error_s', 10.0, '/diagnostics turns ERROR when an active node got no image '
       'for this long (0: never).', min_value=0.0, max_value=86400.0),
    _p('adaptive_precision', False, 'Step to a faster configured precision when the latency '
       'budget, the drop rate or GPU throttling is breached, and back when the load passes; '
       'never below min_accuracy (docs/adaptive.md).'),
    _p('adaptive_breach_window_s', 3.0, 'How long a breach (or its end) must last before '
       'adaptive precision acts.', min_value=0.1, max_value=3600.0),
    _p('adaptive_recover_ratio', 0.7, 'Step back to a slower precision only when its '
       'predicted latency is under this share of latency_budget_ms (hysteresis).',
       min_value=0.05, max_value=1.0),
    _p('adaptive_min_dwell_s', 10.0, 'Least time between two adaptive changes; doubled '
       '(up to 8x) each time a step back up is undone soon after.', min_value=0.0,
       max_value=3600.0),
    _p('adaptive_override_pause_s', 60.0, 'After an operator sets precision, adaptive '
       'precision takes it as the preferred one and waits this long before acting.',
       min_value=0.0, max_value=86400.0),
)

SPECS: Dict[str, ParamSpec] = {spec.name: spec for spec in PARAMETERS}


def defaults() -> Dict[str, Any]:
    """Return every parameter's default, keyed by its full name."""
    return {spec.name: spec.default for spec in PARAMETERS}


def _flatten(tree: Mapping[str, Any], prefix: str = '') -> Dict[str, Any]:
    flat: Dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f'{prefix}{key}.'))
        else:
            flat[f'{prefix}{key}'] = value
    return flat


def read_params_file(path: Union[str, 'os.PathLike[str]']) -> Dict[str, Any]:
    """
    Return the values a ROS parameter YAML file sets, nested names joined by dots.

    The file holds ``<node name or /**>: ros__parameters: {...}``; the first such block is
    read. Known parameters are checked against the table; unknown names are kept (ROS keeps
    them too). Raises ParameterError naming the file and the fix.
    """
    import yaml
    try:
        with open(path, encoding='utf-8') as handle:
            document = yaml.safe_load(handle)
    except OSError as exc:
        raise ParameterError(f'cannot read the parameter file {str(path)!r} '
                             f'({exc.strerror or exc}); give a ROS parameter YAML file such as '
                             f'config/defaults.yaml') from None
    except yaml.YAMLError as exc:
        raise ParameterError(f'the parameter file {str(path)!r} is not valid YAML '
                             f'({collapse_whitespace(exc)})') from None
    blocks = [node['ros__parameters'] for node in (document or {}).values()
              if isinstance(node, Mapping) and isinstance(node.get('ros__parameters'), Mapping)
              ] if isinstance(document, Mapping) else []
    if not blocks:
        raise ParameterError(f'{str(path)!r} has no "ros__parameters" block; write it as '
                             f'"/**: ros__parameters: {{...}}" like config/defaults.yaml')
    values = _flatten(blocks[0])
    for name, value in values.items():
        problem = check_value(SPECS[name], value) if name in SPECS else None
        if problem:
            raise ParameterError(f'{str(path)!r}: {problem}')
    return values


def values_from_file(path: Union[str, 'os.PathLike[str]']) -> Dict[str, Any]:
    """Return every parameter's value: the defaults, overridden by what ``path`` sets."""
    values = defaults()
    values.update(read_params_file(path))
    return values


def resolve_path(path: str, model_dir: str) -> Path:
    """Resolve ``path`` against ``model_dir`` unless it is absolute; expand ``~``."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute() or not model_dir:
        return candidate
    return Path(model_dir).expanduser() / candidate


def configured_precisions(values: Mapping[str, Any]) -> List[str]:
    """Return the precisions with an ``engines.<precision>`` or ``onnx_sources.<precision>``."""
    return [p for p in PRECISIONS if str(values.get(f'engines.{p}', '') or '')
            or str(values.get(f'onnx_sources.{p}', '') or '')]


def check_model_dir(values: Mapping[str, Any]) -> Optional[str]:
    """Return why ``model_dir`` cannot hold the engines and labels, or None."""
    model_dir = str(values.get('model_dir', '') or '')
    if model_dir and not Path(model_dir).expanduser().is_dir():
        return (f'model_dir {model_dir} is not a folder; set model_dir to the folder that holds '
                'the engines and labels (or leave it empty and give full paths)')
    return None


def check_precision(precision: str, values: Mapping[str, Any]) -> Optional[str]:
    """Return why ``precision`` cannot run with the engines in ``values``, or None.

    Only cheap checks happen here (configured, file present and not empty), because the
    parameter callback must return at once; loading happens on a loader thread and a load
    failure is reported there, with the old engine still serving.
    """
    path = str(values.get(f'engines.{precision}', '') or '')
    source = str(values.get(f'onnx_sources.{precision}', '') or '')
    model_dir = str(values.get('model_dir', '') or '')
    problem = check_model_dir(values)
    if problem:
        return problem
    if source:
        resolved_source = resolve_path(source, model_dir)
        if resolved_source.is_dir():
            return (f'onnx_sources.{precision} names a folder ({resolved_source}), not a file; '
                    'point it at the .onnx file')
        if not resolved_source.is_file():
            return (f'ONNX source for {precision} not found at {resolved_source}; check '
                    f'onnx_sources.{precision} and model_dir')
        if not path or not resolve_path(path, model_dir).is_file():
            return None  # the engine is built from the source on first use
    scheme = url_scheme(path)
    if scheme:  # a model on a server: the loader asks the server whether it is ready
        return None if scheme in SCHEMES else (
            f'engines.{precision} {path!r} has an unknown URL scheme {scheme!r}; accepted: '
            f'{", ".join(s + "://" for s in SCHEMES)}')
    if not path:
        configured = configured_precisions(values) or ['none']
        return (f'precision {precision!r} has no engine: set engines.{precision} in the '
                f'parameter file; configured precisions: {", ".join(configured)}')
    resolved = resolve_path(path, model_dir)
    if resolved.is_dir():
        return (f'engines.{precision} names a folder ({resolved}), not a file; point it at the '
                '.onnx, .engine/.plan or .pt2 file')
    if not resolved.is_file():
        return (f'engine for {precision} not found at {resolved}; check engines.{precision} '
                f'and model_dir, or build it (see the README)')
    if resolved.stat().st_size == 0:
        return f'engine for {precision} at {resolved} is empty; rebuild or re-copy it'
    return None


def validate(changes: Mapping[str, Any], current: Mapping[str, Any],
             declared: Sequence[str] = (), check_files: bool = True) -> Optional[str]:
    """Check a set of parameter changes against the rules and the current values.

    ``changes`` holds the new values, ``current`` every value now in force. Returns the
    reason to refuse the whole set, or None to accept it. Read-only parameters are refused
    by rclpy itself once declared; ``declared`` names those already declared. While the node
    declares its parameters it passes ``check_files=False``: a missing engine then fails the
    configure or activate transition with its reason instead of the node's construction.
    """
    merged = dict(current)
    merged.update(changes)
    for name, value in changes.items():
        spec = SPECS.get(name)
        if spec is None:
            continue
        if spec.read_only and name in declared and name in current \
                and current[name] != value:
            return f'{name} is read-only; set it in the parameter file and restart the node'
        problem = check_value(spec, value)
        if problem:
            return problem
    if {'failure_warn_ratio', 'failure_error_ratio'} & set(changes) \
            and 'failure_warn_ratio' in merged and 'failure_error_ratio' in merged \
            and float(merged['failure_warn_ratio']) > float(merged['failure_error_ratio']):
        return (f'failure_warn_ratio ({merged["failure_warn_ratio"]:g}) must not exceed '
                f'failure_error_ratio ({merged["failure_error_ratio"]:g})')
    # The three engine_profile values are checked together, once all are known (the node
    # declares parameters one at a time; start_up_problem checks the file's values at once).
    if any(name in changes for name in PROFILE_PARAMETERS) and all(
            name in merged for name in PROFILE_PARAMETERS):
        try:
            profile_from_parameters(merged)
        except ParameterError as error:
            return str(error)
    if check_files and 'precision' in changes:
        return check_precision(str(merged['precision']), merged)
    return None


# Parameters every rclpy node has, and prefixes rclpy owns: never reported as unknown.
_ROS_PARAMETERS = ('use_sim_time', 'start_type_description_service')
_ROS_PREFIXES = ('qos_overrides.',)


def coerce_overrides(values: Mapping[str, Any]) -> Dict[str, Any]:
    """
    Return the start-up values that need a type fix: integers given for float parameters.

    YAML reads ``score_threshold: 1`` as an integer, and rclpy then refuses it as the wrong
    type; the value is meant as 1.0, so it becomes 1.0 (and ``mean: [0, 0, 0]`` floats).
    """
    fixed: Dict[str, Any] = {}
    for name, value in values.items():
        spec = SPECS.get(name)
        if spec is None:
            continue
        if spec.type_name == 'float' and isinstance(value, int) \
                and not isinstance(value, bool):
            fixed[name] = float(value)
        elif spec.type_name == 'float[]' and isinstance(value, (list, tuple)) and value \
                and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            fixed[name] = [float(v) for v in value]
    return fixed


def start_up_problem(values: Mapping[str, Any]) -> Optional[str]:
    """Return one sentence naming the first start-up value that is wrong and the fix, or None."""
    for spec in PARAMETERS:
        if spec.name not in values:
            continue
        problem = check_value(spec, values[spec.name])
        if problem:
            allowed = ''
            if spec.choices:
                allowed = f'one of {", ".join(spec.choices)}'
            elif spec.min_value is not None and spec.max_value is not None:
                allowed = f'{spec.type_name} from {spec.min_value:g} to {spec.max_value:g}'
            hint = f'; allowed: {allowed}' if allowed else ''
            return (f'invalid parameter {spec.name}: {problem}. Fix {spec.name} in the '
                    f'parameter file or the -p argument (default {spec.default!r}{hint}).')
    try:
        profile_from_parameters(values)
    except ParameterError as error:
        return f'invalid engine_profile: {error}.'
    return None


def unknown_parameters(names: Sequence[str]) -> List[Tuple[str, Optional[str]]]:
    """Return ``(name, closest known name or None)`` for each name the node does not have."""
    known = list(SPECS)
    unknown = []
    for name in names:
        if name in SPECS or name in _ROS_PARAMETERS or name.startswith(_ROS_PREFIXES):
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        unknown.append((name, close[0] if close else None))
    return unknown
