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

"""The inference node: a managed (lifecycle) rclpy node that only wires.

Messages go to a latest-wins :class:`~accel_ai_ros.pipeline.InferencePipeline`; its worker
decodes, runs the engine through a :class:`~accel_ai_ros.frame_processor.FrameProcessor`,
and publishes. Parameters come from :mod:`accel_ai_ros.params`, validated by one callback
that is registered before they are declared. Lifecycle: parameters in the constructor,
publishers on configure, engine and subscription on activate, both freed on deactivate.
"""

import logging
import sys
import time
from typing import Any
from typing import Callable
from typing import Dict
from typing import List
from typing import Optional
from typing import Set
from typing import Tuple

from rcl_interfaces.msg import FloatingPointRange
from rcl_interfaces.msg import IntegerRange
from rcl_interfaces.msg import ParameterDescriptor
from rcl_interfaces.msg import ParameterType
from rcl_interfaces.msg import SetParametersResult
from rclpy.lifecycle import LifecycleNode
from rclpy.lifecycle import LifecycleState
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy
from rclpy.qos import qos_profile_sensor_data
from rclpy.qos import QoSProfile
from sensor_msgs.msg import CompressedImage
from sensor_msgs.msg import Image
from std_msgs.msg import Bool
from std_msgs.msg import Float32
from std_msgs.msg import Float32MultiArray
from std_msgs.msg import String

from accel_ai_ros import intra_process
from accel_ai_ros import messages
from accel_ai_ros.annotate import annotate
from accel_ai_ros.backends.base import Runner
from accel_ai_ros.diagnostics import diagnostic_values
from accel_ai_ros.engines.selection import backend_for
from accel_ai_ros.engines.selection import Loader
from accel_ai_ros.engines.selection import loader_for
from accel_ai_ros.errors import AccelAiError
from accel_ai_ros.errors import ImageDecodeError
from accel_ai_ros.errors import one_line
from accel_ai_ros.errors import ParameterError
from accel_ai_ros.errors import quoted_input
from accel_ai_ros.frame_processor import FrameProcessor
from accel_ai_ros.frame_processor import ProcessingSettings
from accel_ai_ros.image_codec import decode_message
from accel_ai_ros.image_codec import encode_image
from accel_ai_ros.monitoring.adaptive import AdaptiveConfig
from accel_ai_ros.monitoring.adaptive import Ladder
from accel_ai_ros.monitoring.health import HealthLimits
from accel_ai_ros.monitoring.supervisor import ladder_from_report
from accel_ai_ros.monitoring.supervisor import Supervisor
from accel_ai_ros.monitoring.system import SystemMonitor
from accel_ai_ros.param_spec import ParamSpec
from accel_ai_ros.params import check_model_dir
from accel_ai_ros.params import check_precision
from accel_ai_ros.params import coerce_overrides
from accel_ai_ros.params import configured_precisions
from accel_ai_ros.params import PARAMETERS
from accel_ai_ros.params import PRECISIONS
from accel_ai_ros.params import resolve_path
from accel_ai_ros.params import start_up_problem
from accel_ai_ros.params import unknown_parameters
from accel_ai_ros.params import validate
from accel_ai_ros.pipeline import InferencePipeline
from accel_ai_ros.pipeline import PendingFrame
from accel_ai_ros.precision_policy import accuracy_floor_problem
from accel_ai_ros.precision_policy import recommended_precision
from accel_ai_ros.precision_report import load_report
from accel_ai_ros.shared_engine import shared_loader
from accel_ai_ros.stats import FrameCounters
from accel_ai_ros.stats import LatencyTracker
from accel_ai_ros.stats import Throttle
from accel_ai_ros.tasks.base import Task
from accel_ai_ros.tasks.registry import task_named

try:  # Iron and newer
    from rclpy.event_handler import SubscriptionEventCallbacks
except ImportError:  # Humble
    from rclpy.qos_event import SubscriptionEventCallbacks  # type: ignore[no-redef]

_PARAM_TYPES = {
    'bool': ParameterType.PARAMETER_BOOL, 'int': ParameterType.PARAMETER_INTEGER,
    'float': ParameterType.PARAMETER_DOUBLE, 'str': ParameterType.PARAMETER_STRING,
    'float[]': ParameterType.PARAMETER_DOUBLE_ARRAY,
    'str[]': ParameterType.PARAMETER_STRING_ARRAY,
}
#: How often the node snapshots its counters and runs the adaptive-precision policy.
_TICK_S = 0.5


def descriptor_for(spec: ParamSpec) -> ParameterDescriptor:
    """Return the ROS parameter descriptor of one parameter spec."""
    descriptor = ParameterDescriptor(
        name=spec.name, type=_PARAM_TYPES[spec.type_name], description=spec.description,
        read_only=spec.read_only)
    if spec.choices:
        descriptor.additional_constraints = 'one of: ' + ', '.join(spec.choices)
    if spec.min_value is not None and spec.max_value is not None:
        if spec.type_name == 'int':
            descriptor.integer_range = [IntegerRange(
                from_value=int(spec.min_value), to_value=int(spec.max_value), step=1)]
        elif spec.type_name == 'float':
            descriptor.floating_point_range = [FloatingPointRange(
                from_value=float(spec.min_value), to_value=float(spec.max_value), step=0.0)]
    return descriptor


class InferenceNode(LifecycleNode):
    """Subscribe to camera images, run the configured engine, publish results and latency."""

    def __init__(self, node_name: str = 'inference_node', **kwargs: Any) -> None:
        """Create the node; kwargs are rclpy Node options (namespace, context, overrides)."""
        super().__init__(node_name, **kwargs)
        # What destroy_node frees exists first: rclpy destroys a node whose construction
        # failed when its context shuts down.
        self._pipeline: Optional[InferencePipeline] = None
        self._subscription: Any = None
        self._unsubscribe_in_process: Optional[Callable[[], None]] = None
        self._pubs: Dict[str, Any] = {}
        self._warm: Dict[str, Runner] = {}
        self._check_start_up_values()
        self.counters = FrameCounters()
        self.latency = LatencyTracker()
        self._throttle = Throttle(5.0)
        self._declaring = True
        self._runtime: Dict[str, Any] = {}
        self.add_on_set_parameters_callback(self._on_set_parameters)
        # Iron and newer: `ros2 param set ... score_threshold 1` means 1.0, as at start-up.
        add_pre_set = getattr(self, 'add_pre_set_parameters_callback', None)
        if add_pre_set is not None:
            add_pre_set(self._coerce_parameter_types)
        for spec in PARAMETERS:
            self.declare_parameter(spec.name, spec.default, descriptor_for(spec))
        self._declaring = False
        self._values = {spec.name: self.get_parameter(spec.name).value for spec in PARAMETERS}
        # Only the executor thread changes the values (parameter callback, timers, guards).
        self._revert_guard = self.create_guard_condition(self._revert_precision)
        self._shorten_gil_switch_interval(float(self._values['gil_switch_interval_ms']))
        self._processor: Optional[FrameProcessor] = None
        self._task: Optional[Task] = None
        self._task_parameters: Set[str] = set()
        self._serving_precision = ''
        self._requested_precision = str(self._values['precision'])
        self._last_error = ''
        self._report: Optional[Dict[str, Any]] = None
        self._activated_at = 0.0
        self._no_frame_warned = False
        self._last_failure = ''
        self._truncated_frames = 0
        self._internal_precision: Optional[str] = None
        self._ladder = Ladder(())
        self._supervisor = Supervisor(*self._monitoring_settings(),
                                      window_s=float(self._values['health_window_s']))
        self._system: Optional[SystemMonitor] = None
        if float(self._values['system_monitoring_period_s']) > 0.0:
            self._system = SystemMonitor(float(self._values['system_monitoring_period_s']),
                                         gpu_device=int(self._values['gpu_device']))
            self._system.start()
        self.create_timer(_TICK_S, self._monitoring_tick)
        self._diagnostics_pub = self.create_publisher(
            messages.DiagnosticArray, '/diagnostics', 10)
        self.create_timer(float(self._values['diagnostics_period_s']), self._publish_diagnostics)
        self._watchdog = self.create_timer(1.0, self._check_frames_arrive)
        self._autostart_timer = None
        if self._values['autostart']:
            self._autostart_timer = self.create_timer(0.0, self._autostart)
        self._constructed = True

    def _shorten_gil_switch_interval(self, ms: float) -> None:
        """Lower the process's GIL switch interval to ``ms`` (never raise it; 0: leave it).

        Measured on an H200 (docs/gpu.md): with the publisher flooding the node, the GPU
        stages of a frame grew with this interval (a thread that wants the GIL back waits
        up to one interval for the one holding it).
        """
        if ms > 0.0 and sys.getswitchinterval() > ms / 1e3:
            sys.setswitchinterval(ms / 1e3)
            self.get_logger().info(f'GIL switch interval of this process set to {ms:g} ms')

    # -- read-only state (what /diagnostics and ~/precision report, for in-process users) --
    @property
    def runner(self) -> Optional[Runner]:
        """Return the runner serving frames now, or None while the node is not active."""
        pipeline = self._pipeline
        return pipeline.runner if pipeline is not None else None

    @property
    def serving_precision(self) -> str:
        """Return the precision whose engine serves now ('' before the first activation)."""
        return self._serving_precision

    @property
    def last_error(self) -> str:
        """Return why the last transition or engine load failed ('' when it did not)."""
        return self._last_error

    # -- parameters ----------------------------------------------------------------------
    def _coerce_parameter_types(self, params: List[Parameter]) -> List[Parameter]:
        """Turn integers given for float parameters into floats before rclpy checks types."""
        fixed = coerce_overrides({p.name: p.value for p in params})
        return [Parameter(p.name, value=fixed[p.name]) if p.name in fixed else p
                for p in params]

    def _check_start_up_values(self) -> None:
        """
        Check the values from the parameter file and -p before anything is declared.

        rclpy would refuse a bad value with a traceback naming its own exception, and ignore
        a misspelt name; here a bad value raises one sentence naming the parameter and the
        fix, an integer given for a float becomes a float, and an unknown name is reported
        once with the closest known one. rclpy keeps the parsed values in the private
        ``_parameter_overrides`` (Humble to Kilted); without it only rclpy's checks run.
        """
        overrides = getattr(self, '_parameter_overrides', None)
        if not isinstance(overrides, dict):
            return
        values = {name: param.value for name, param in overrides.items()}
        for name, value in coerce_overrides(values).items():
            overrides[name] = Parameter(name, value=value)
            values[name] = value
        problem = start_up_problem(values)
        if problem:
            raise ParameterError(problem)
        for name, close in unknown_parameters(list(values)):
            hint = f"; did you mean '{close}'?" if close else ''
            self.get_logger().warning(
                f'unknown parameter {quoted_input(name)} is ignored{hint} (the parameter '
                'table is in config/defaults.yaml)')

    def _on_set_parameters(self, params: List[Parameter]) -> SetParametersResult:
        changes = {p.name: p.value for p in params}
        current = {} if self._declaring else dict(self._values)
        reason = validate(changes, current, declared=list(current),
                          check_files=not self._declaring and self._pipeline is not None)
        if not reason and not self._declaring and 'precision' in changes:
            reason = self._accuracy_floor_problem(str(changes['precision']))
        if reason:
            if not self._declaring:
                self.get_logger().warning(f'parameter change refused: {reason}')
            return SetParametersResult(successful=False, reason=reason)
        if not self._declaring:
            self._values.update(changes)
            self._apply_runtime_changes(changes)
            self._apply_monitoring_changes(changes)
        return SetParametersResult(successful=True)

    def _apply_runtime_changes(self, changes: Dict[str, Any]) -> None:
        if self._processor is not None and any(n in changes for n in self._task_parameters):
            settings = ProcessingSettings.from_params(
                self._values, labels=self._processor.settings.labels)
            self._processor.update(settings)
        if self._pipeline is not None and 'max_frame_age_ms' in changes:
            self._pipeline.set_max_frame_age_ms(float(changes['max_frame_age_ms']))
        precision = changes.get('precision')
        if precision is not None and self._pipeline is not None \
                and precision != self._requested_precision:
            self._requested_precision = str(precision)
            self.get_logger().info(f'loading the {precision} engine; the '
                                   f'{self._serving_precision} engine serves meanwhile')
            self._pipeline.request_swap(self._loader_for(str(precision)), tag=str(precision))

    def _accuracy_floor_problem(self, precision: str) -> Optional[str]:
        if self._report is None:
            return None
        try:
            backend: Optional[str] = backend_for(self._values, precision)
        except AccelAiError:
            backend = None
        return accuracy_floor_problem(self._report, precision,
                                      float(self._values['min_accuracy']), backend)

    def _apply_precision_report(self) -> None:
        """Load the trade-off report; pick the recommended precision; hold the floor."""
        values = self._values
        self._report = None
        if not values['precision_report']:
            return
        self._report = load_report(resolve_path(str(values['precision_report']),
                                                str(values['model_dir'])))
        if values['use_recommended_precision']:
            configured = configured_precisions(values)
            choice, why = recommended_precision(
                self._report, configured, float(values['min_accuracy']) or None,
                float(values['max_latency_ms']) or None,
                backend_for(values, configured[0]) if configured else None)
            if choice is None:
                raise AccelAiError(f'use_recommended_precision: {why}')
            self.get_logger().info(f'the precision report recommends {choice}: {why}')
            if choice != values['precision']:
                self.set_parameters([Parameter('precision', value=choice)])
        problem = self._accuracy_floor_problem(str(values['precision']))
        if problem:
            raise AccelAiError(problem)

    def _loader_for(self, precision: str) -> Loader:
        """Return a loader whose runner has passed the checks of :meth:`FrameProcessor.check`."""
        warm = self._warm.pop(precision, None)
        load: Loader = (lambda: warm) if warm is not None \
            else loader_for(self._values, precision)
        if warm is None and self._values['share_engine']:
            load = shared_loader(load, int(self._values['max_batch']))
        processor = self._processor
        assert processor is not None, 'engines load only after configure'

        def load_and_check() -> Runner:
            runner = load()
            try:
                processor.check(runner)
            except BaseException:
                runner.deactivate()
                raise
            return runner
        return load_and_check

    def _prebuild(self, serving: str) -> None:
        for precision in configured_precisions(self._values):
            if precision != serving and precision not in self._warm:
                self._warm[precision] = self._loader_for(precision)()
                self.get_logger().info(f'{precision} engine ready: '
                                       f'{self._warm[precision].describe()}')

    def _warn_off_target(self, runner: Runner) -> None:
        """Log the runner's INT8 off-target warning (a TensorRT model on the CPU...)."""
        warning = getattr(runner, 'int8_warning', None)
        if warning:
            self.get_logger().warning(f'{runner.name}: {warning}')

    def _on_swap(self, runner: Optional[Runner], error: Optional[BaseException],
                 tag: str) -> None:
        if error is None and runner is not None:
            self._serving_precision = tag
            self._last_error = ''
            self._supervisor.swapped(tag)
            self._publish_precision()
            self.get_logger().info(f'now running {tag}: {runner.describe()}')
            self._warn_off_target(runner)
            return
        self._last_error = f'loading {tag} failed: {error}'
        self.get_logger().error(f'{self._last_error}; {self._serving_precision} keeps serving')
        # This runs on the worker thread: the parameter values belong to the executor
        # thread, so setting precision back is handed to it.
        self._revert_guard.trigger()

    def _revert_precision(self) -> None:
        """Set ``precision`` back to the engine that serves (after a failed swap)."""
        self._requested_precision = self._serving_precision
        if self._serving_precision:
            self._supervisor.swapped(self._serving_precision)
            self._set_precision_internally(self._serving_precision)

    # -- lifecycle -----------------------------------------------------------------------
    def _autostart(self) -> None:
        if self._autostart_timer is not None:
            self._autostart_timer.cancel()
            self.destroy_timer(self._autostart_timer)
            self._autostart_timer = None
        if self.trigger_configure() == TransitionCallbackReturn.SUCCESS:
            self.trigger_activate()

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Check the configuration, read labels and create the publishers."""
        values = self._values
        try:
            problem = check_model_dir(values)
            if problem:
                raise AccelAiError(problem)
            labels_file = str(values['labels_file'])
            settings = ProcessingSettings.from_params(values).with_labels_file(
                str(resolve_path(labels_file, str(values['model_dir']))) if labels_file
                else '')
            self._apply_precision_report()
            problem = check_precision(str(values['precision']), values)
            if problem:
                raise AccelAiError(problem)
            task = task_named(settings.task)
            result_type = task.message_type()
        except AccelAiError as exc:
            self._last_error = str(exc)
            self.get_logger().error(f'configure failed: {exc}')
            return TransitionCallbackReturn.FAILURE
        self._processor = FrameProcessor(settings)
        self._task = task
        self._task_parameters = {spec.name for spec in task.parameters}
        qos = QoSProfile(depth=10)
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        pubs = {'latency': self.create_lifecycle_publisher(Float32, '~/latency', qos),
                'ready': self.create_lifecycle_publisher(Bool, '~/ready', latched),
                'precision': self.create_lifecycle_publisher(String, '~/precision', latched),
                'output': self.create_lifecycle_publisher(Float32MultiArray, '~/output', qos),
                'annotated': self.create_lifecycle_publisher(
                    Image, '~/image_annotated', qos_profile_sensor_data)}
        if result_type is not None:
            pubs['results'] = self.create_lifecycle_publisher(result_type, '~/results', qos)
        self._pubs = pubs
        self.get_logger().info(f'configured: task {settings.task}, precision '
                               f'{values["precision"]}')
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the engine, start the worker and subscribe."""
        precision = str(self._values['precision'])
        runner: Optional[Runner] = None
        try:
            runner = self._loader_for(precision)()
            if self._values['prebuild_engines']:
                self._prebuild(precision)
        except Exception as exc:  # noqa: B902 - a failed activation always says why
            self._free_warm()
            if runner is not None:
                runner.deactivate()
            why = str(exc) if isinstance(exc, AccelAiError) else \
                f'{type(exc).__name__}: {exc} (unexpected: please report it)'
            self._last_error = f'loading {precision} failed: {why}'
            self.get_logger().error(f'activate failed: {self._last_error}')
            return TransitionCallbackReturn.FAILURE
        self._serving_precision = self._requested_precision = precision
        self._last_error = ''
        self.get_logger().info(f'running {precision}: {runner.describe()}')
        self._warn_off_target(runner)
        self._pipeline = InferencePipeline(
            self._handle_frame, self.counters,
            max_frame_age_ms=float(self._values['max_frame_age_ms']), latency=self.latency,
            on_swap=self._on_swap, on_error=self._on_frame_error)
        self._pipeline.start(runner)
        events = SubscriptionEventCallbacks(incompatible_qos=self._on_incompatible_qos)
        qos = QoSProfile(depth=int(self._values['qos_depth']),
                         reliability=qos_profile_sensor_data.reliability,
                         durability=qos_profile_sensor_data.durability,
                         history=qos_profile_sensor_data.history)
        if self._values['input_transport'] == 'compressed':
            self._subscription = self.create_subscription(
                CompressedImage, 'image/compressed', self._pipeline.submit, qos,
                event_callbacks=events)
        else:
            # raw=True: the callback gets the serialized CDR bytes and the worker parses them
            # into views (cdr_image), which saves rclpy's two extra copies of the pixels
            # (about 1 ms a 1080p frame, measured). In a container with
            # use_intra_process_comms, publishers of this process hand over message objects.
            from_dds: Callable[[Any], None] = self._pipeline.submit
            bus = intra_process.bus_for(self.context)
            if bus.enabled(self):
                from_dds, self._unsubscribe_in_process = intra_process.subscribe_images(
                    bus, self, self.resolve_topic_name('image'), self._pipeline.submit)
            self._subscription = self.create_subscription(
                Image, 'image', from_dds, qos, event_callbacks=events, raw=True)
        self._activated_at = time.monotonic()
        self._no_frame_warned = False
        self._last_failure = ''
        self._build_ladder()
        self._supervisor.activated(precision, self.counters.snapshot())
        result = super().on_activate(state)
        self._pubs['ready'].publish(Bool(data=True))
        self._publish_precision()
        return result

    def _free_warm(self) -> None:
        for runner in self._warm.values():
            runner.deactivate()
        self._warm = {}

    def _stop_engine(self) -> None:
        self._free_warm()
        self._supervisor.deactivated()
        if self._unsubscribe_in_process is not None:
            self._unsubscribe_in_process()
            self._unsubscribe_in_process = None
        if self._subscription is not None and self.context.ok():
            # (After Ctrl-C rclpy has already shut the context down: nothing to tell.)
            self._pubs['ready'].publish(Bool(data=False))
            self.destroy_subscription(self._subscription)
            self._subscription = None
        if self._pipeline is not None:
            runner = self._pipeline.stop()
            self._pipeline = None
            if runner is not None:
                runner.deactivate()

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Unsubscribe, stop the worker and free the engine."""
        self._stop_engine()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Destroy the publishers."""
        self._stop_engine()
        for pub in self._pubs.values():
            self.destroy_lifecycle_publisher(pub)
        self._pubs = {}
        self._processor = None
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Free everything on the way out."""
        self._stop_engine()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Free the engine after an error; the node may be configured again."""
        self._stop_engine()
        return TransitionCallbackReturn.SUCCESS

    def destroy_node(self) -> None:
        """Stop the worker before the node goes away."""
        # rclpy also destroys a node whose constructor raised (a bad start-up value) when
        # its context shuts down: then only rclpy's part exists.
        if getattr(self, '_constructed', False):
            self._stop_engine()
            if self._system is not None:
                self._system.stop()
        super().destroy_node()

    # -- frames --------------------------------------------------------------------------
    def _handle_frame(self, frame: PendingFrame, runner: Runner) -> None:
        start = time.perf_counter()
        max_pixels = int(self._values['max_image_pixels'])
        header, image = decode_message(frame.message, max_pixels)
        if image.library_messages:
            self._log_by_kind('decoder_messages', logging.WARNING,
                              'the image decoder reported a problem but decoded the frame: '
                              + quoted_input(image.library_messages, 200))
        timings = frame.timings     # recorded by the pipeline when the frame is done
        timings['decode'] = (time.perf_counter() - start) * 1e3
        processor, task = self._processor, self._task
        assert processor is not None and task is not None
        result = processor.process(image, runner, timings)
        if result.truncated:
            self._truncated_frames += 1
            if self._truncated_frames == 1:
                self.get_logger().warning(
                    f'more than max_detections = {self._values["max_detections"]} '
                    'detections passed the thresholds in a frame; only the best are published. '
                    'Raise max_detections (or score_threshold) if that is too few; '
                    "/diagnostics counts such frames ('frames cut by max_detections').")
        start = time.perf_counter()
        pubs = self._pubs
        if task.to_msg is not None:
            pubs['results'].publish(task.to_msg(result, header))
        if self._values['publish_raw'] or task.to_msg is None:
            pubs['output'].publish(messages.tensors_to_msg(result.raw))
        if self._values['publish_annotated']:
            encoding, step, data = encode_image(annotate(image, result))
            pubs['annotated'].publish(Image(
                header=header, height=image.height, width=image.width,
                encoding=encoding, step=step, data=data))
        total_ms = (time.monotonic() - frame.received_at) * 1e3
        pubs['latency'].publish(messages.latency_to_msg(total_ms))
        timings['publish'] = (time.perf_counter() - start) * 1e3
        timings['receipt_to_publish'] = total_ms
        now_ns = self.get_clock().now().nanoseconds
        stamp_ns = header.stamp.sec * 1_000_000_000 + header.stamp.nanosec
        if stamp_ns:
            timings['stamp_to_publish'] = (now_ns - stamp_ns) / 1e6
            timings['transport'] = timings['stamp_to_publish'] - total_ms
        self._supervisor.frame_done(self._serving_precision, total_ms,
                                    timings.get('inference', 0.0))

    def _on_frame_error(self, frame: PendingFrame, error: BaseException) -> None:
        self._last_failure = one_line(f'{type(error).__name__}: {error}', 200)
        self._supervisor.frame_failed()
        if isinstance(error, ImageDecodeError):
            self._log_by_kind(f'rejected:{error.kind}', logging.WARNING,
                              f'frame rejected: {error}')
        else:
            self._log_by_kind(f'failed:{type(error).__name__}', logging.ERROR,
                              f'frame failed: {type(error).__name__}: {error}')

    def _log_by_kind(self, kind: str, level: int, text: str) -> None:
        """Log ``text`` at most once per period per kind, saying how many were held back."""
        more = self._throttle.poll(kind)
        if more is None:
            return
        line = one_line(text) + (f' ({more} more of this kind since the last report)'
                                 if more else '')
        logger = self.get_logger()
        if level >= logging.ERROR:
            logger.error(line)
        elif level >= logging.WARNING:
            logger.warning(line)
        else:
            logger.info(line)

    def _on_incompatible_qos(self, event: Any) -> None:
        if self._throttle.ready('incompatible_qos'):
            self.get_logger().warning(
                f'a publisher on {self._subscription.topic_name} offers a QoS this '
                f'subscription cannot match (policy {event.last_policy_kind}); the node '
                f'subscribes best-effort, volatile, depth {self._values["qos_depth"]}: make '
                'the camera driver publish with compatible QoS (sensor-data QoS works)')

    def _check_frames_arrive(self) -> None:
        if self._subscription is None or self._no_frame_warned:
            return
        if self.counters.get('received') > 0:
            self._no_frame_warned = True
            return
        if time.monotonic() - self._activated_at < float(self._values['no_frame_warning_s']):
            return
        topic = self._subscription.topic_name
        infos = self.get_publishers_info_by_topic(topic)
        if not infos:
            return
        self._no_frame_warned = True
        offered = '; '.join(
            f'{info.node_name}: {info.qos_profile.reliability.name.lower()}, '
            f'{info.qos_profile.durability.name.lower()}' for info in infos)
        self.get_logger().warning(
            f'{len(infos)} publisher(s) on {topic} but no frame arrived in '
            f'{self._values["no_frame_warning_s"]:.0f} s. Publishers offer [{offered}]; '
            'this node takes best_effort, volatile. Large images between processes need '
            'Fast DDS shared memory with a larger segment: export '
            'FASTDDS_DEFAULT_PROFILES_FILE=<share>/accel_ai_ros/config/fastdds_localhost.xml '
            '(and FASTRTPS_DEFAULT_PROFILES_FILE, the name Fast DDS 2.x on Humble and Jazzy '
            'reads) for both processes (see the README, "Frames never arrive")')

    def _publish_diagnostics(self) -> None:
        engine = self._pipeline.runner if self._pipeline is not None else None
        sample = self._system.latest() if self._system is not None else None
        health = self._supervisor.health(
            active=engine is not None and self._subscription is not None,
            summary_ok=f'running {self._serving_precision}', engine_error=self._last_error,
            last_failure=self._last_failure, sample=sample)
        extra = dict(self._supervisor.values())
        if self._truncated_frames:
            extra['frames cut by max_detections'] = str(self._truncated_frames)
        if engine is not None:
            extra.update(engine.health())
        if self._last_failure:
            extra['last failure'] = self._last_failure
        values = diagnostic_values(
            self.counters.snapshot(), self.latency.summary(),
            backend=engine.backend_name if engine else '',
            precision=self._serving_precision,
            engine=str(self._values.get(f'engines.{self._serving_precision}', '')),
            system=sample, extra=extra)
        device = sample.values.get('gpu memory total MB') if sample else None
        hardware = f'{engine.backend_name if engine else "none"} on ' + \
            (f'gpu {self._values["gpu_device"]}' if device else 'cpu')
        self._diagnostics_pub.publish(messages.diagnostics_to_msg(
            self.get_clock().now().to_msg(), f'{self.get_fully_qualified_name()}: inference',
            hardware, health.level, health.message, values))

    # -- monitoring and adaptive precision -----------------------------------------------
    def _monitoring_settings(self) -> Tuple[HealthLimits, AdaptiveConfig]:
        v = self._values
        limits = HealthLimits(
            latency_budget_ms=float(v['latency_budget_ms']),
            drop_rate_warn=float(v['drop_rate_warn']),
            failure_warn_ratio=float(v['failure_warn_ratio']),
            failure_error_ratio=float(v['failure_error_ratio']),
            no_image_error_s=float(v['no_image_error_s']))
        config = AdaptiveConfig(
            latency_budget_ms=float(v['latency_budget_ms']),
            breach_window_s=float(v['adaptive_breach_window_s']),
            recover_ratio=float(v['adaptive_recover_ratio']),
            min_dwell_s=float(v['adaptive_min_dwell_s']),
            override_pause_s=float(v['adaptive_override_pause_s']),
            drop_rate_limit=float(v['drop_rate_warn']))
        return limits, config

    def _apply_monitoring_changes(self, changes: Dict[str, Any]) -> None:
        self._supervisor.configure(*self._monitoring_settings())
        if 'min_accuracy' in changes:
            self._build_ladder()
        precision = changes.get('precision')
        if precision is not None and precision != self._internal_precision:
            self._supervisor.manual(str(precision))

    def _build_ladder(self) -> None:
        values = self._values
        configured = configured_precisions(values)
        backends: Dict[str, Optional[str]] = {}
        for precision in configured:
            try:
                backends[precision] = backend_for(values, precision)
            except AccelAiError:
                backends[precision] = None
        self._ladder = ladder_from_report(self._report, configured,
                                          float(values['min_accuracy']), backends, PRECISIONS)
        if values['adaptive_precision']:
            out = '; '.join(f'{p}: {why}' for p, why in self._ladder.excluded)
            self.get_logger().info(
                f'adaptive precision between {", ".join(self._ladder.names())} (latency '
                f'budget {float(values["latency_budget_ms"]):g} ms)'
                f'{"; left out: " + out if out else ""}')

    def _set_precision_internally(self, precision: str) -> None:
        self._internal_precision = precision
        try:
            result = self.set_parameters([Parameter('precision', value=precision)])[0]
        finally:
            self._internal_precision = None
        if not result.successful:
            self.get_logger().warning(f'precision {precision} refused: {result.reason}')
            self._supervisor.swapped(self._serving_precision)

    def _publish_precision(self) -> None:
        publisher = self._pubs.get('precision')
        if publisher is not None and self._serving_precision:
            publisher.publish(String(data=self._serving_precision))

    def _monitoring_tick(self) -> None:
        self._supervisor.counters(self.counters.snapshot())
        pipeline = self._pipeline
        if not self._values['adaptive_precision'] or pipeline is None \
                or self._subscription is None or pipeline.swap_pending \
                or self._requested_precision != self._serving_precision:
            return
        sample = self._system.latest() if self._system is not None else None
        decision = self._supervisor.adapt(self._ladder, sample,
                                          float(self._values['min_accuracy']))
        if decision is None:
            return
        self.get_logger().info(decision.reason)
        self._set_precision_internally(decision.precision)

    def _state_label(self) -> str:
        return 'active' if self._subscription is not None else 'inactive'


def main(args: Optional[List[str]] = None) -> None:
    """Run one inference node until Ctrl-C or shutdown (see :mod:`accel_ai_ros.startup`)."""
    from accel_ai_ros.startup import main as start
    start(args)


if __name__ == '__main__':
    main()
