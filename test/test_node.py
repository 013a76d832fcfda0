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

"""The inference node end to end: real rclpy and DDS, real ONNX Runtime, real models."""

import os
from pathlib import Path
import subprocess
import sys
import textwrap
import time
from typing import Any
from typing import Dict

import cv2
import numpy as np
import pytest
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from ros_harness import Collector
from ros_harness import image_msg
from ros_harness import reliable
from ros_harness import RosHarness
from ros_harness import unique_ns
from ros_harness import wait_for
from sensor_msgs.msg import CompressedImage
from sensor_msgs.msg import Image
from std_msgs.msg import Float32

vision_msgs = pytest.importorskip(
    'vision_msgs.msg', reason='vision_msgs is not built: run scripts/setup.sh')

from accel_ai_ros.node import InferenceNode  # noqa: E402

SUCCESS = TransitionCallbackReturn.SUCCESS
FAILURE = TransitionCallbackReturn.FAILURE


def make_node(ros: RosHarness, ns: str, overrides: Dict[str, Any]) -> InferenceNode:
    """Create an inference node in ``ns`` with parameter overrides and add it to ``ros``."""
    params = [Parameter(k, value=v) for k, v in overrides.items()]
    return ros.add(InferenceNode(namespace=ns, context=ros.context, parameter_overrides=params))


def classifier_params(engines: Dict[str, str], **extra: Any) -> Dict[str, Any]:
    """Return overrides for the test classifiers."""
    params: Dict[str, Any] = {'engines.fp32': engines['fp32'], 'engines.fp16': engines['fp16'],
                              'resize_mode': 'stretch', 'task': 'classification', 'top_k': 3}
    params.update(extra)
    return params


def accounted(node: InferenceNode) -> int:
    """Return how many received frames have an outcome (processed, dropped, ...)."""
    counts = node.counters.snapshot()
    return sum(v for k, v in counts.items() if k != 'received')


def wait_ready(ros: RosHarness, ns: str, timeout: float = 20.0) -> bool:
    """Wait until the node in ``ns`` latches ``~/ready`` true (active, every engine loaded)."""
    from rclpy.qos import DurabilityPolicy
    from rclpy.qos import QoSProfile
    from std_msgs.msg import Bool
    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    ready = Collector(ros, Bool, f'{ns}/inference_node/ready', latched)
    return wait_for(lambda: len(ready) >= 1 and ready.items[-1].data is True, timeout=timeout)


def rgb(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    """Return a random RGB image."""
    return np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)


def test_lifecycle_loads_and_frees_the_engine(ros, engines):
    node = make_node(ros, unique_ns(), classifier_params(engines, autostart=False))
    assert node.runner is None
    assert node.trigger_configure() == SUCCESS
    assert node.runner is None, 'the engine loads on activate, not configure'
    assert node.trigger_activate() == SUCCESS
    runner = node.runner
    assert runner is not None and runner.is_active
    assert node.trigger_deactivate() == SUCCESS
    assert not runner.is_active and node.runner is None
    assert node.trigger_cleanup() == SUCCESS


def test_node_shortens_the_gil_switch_interval_never_lengthens_it(ros, engines):
    saved = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.005)
        make_node(ros, unique_ns(), classifier_params(engines, gil_switch_interval_ms=0.5))
        assert sys.getswitchinterval() == pytest.approx(0.0005)
        make_node(ros, unique_ns(), classifier_params(engines, gil_switch_interval_ms=2.0))
        assert sys.getswitchinterval() == pytest.approx(0.0005)
    finally:
        sys.setswitchinterval(saved)


def test_corrupt_engine_fails_the_activate_transition(ros, engines, tmp_path):
    bad = tmp_path / 'corrupt.onnx'
    bad.write_bytes(b'this is not an onnx model' * 10)
    node = make_node(ros, unique_ns(), classifier_params(
        engines, autostart=False, **{'engines.fp32': str(bad)}))
    assert node.trigger_configure() == SUCCESS
    assert node.trigger_activate() == FAILURE
    assert 'corrupt.onnx' in node.last_error
    assert node.runner is None


def test_missing_engine_fails_configure_with_the_reason(ros, engines, tmp_path):
    node = make_node(ros, unique_ns(), classifier_params(
        engines, autostart=False, **{'engines.fp32': str(tmp_path / 'nope.onnx')}))
    assert node.trigger_configure() == FAILURE
    assert 'nope.onnx' in node.last_error and 'not found' in node.last_error


def test_results_carry_the_input_header_and_latency(ros, engines):
    ns = unique_ns()
    make_node(ros, ns, classifier_params(engines))
    results = Collector(ros, vision_msgs.Classification, f'{ns}/inference_node/results')
    latency = Collector(ros, Float32, f'{ns}/inference_node/latency')
    pub = ros.node('pub_stamps').create_publisher(Image, f'{ns}/image', reliable(10))
    assert wait_for(lambda: pub.get_subscription_count() > 0)
    stamps = [1_000_000_000 * (i + 1) + 123 for i in range(5)]
    walls = []
    for i, stamp in enumerate(stamps):
        sent = time.monotonic()
        pub.publish(image_msg(rgb(seed=i), 'rgb8', frame_id=f'cam{i}', stamp_ns=stamp))
        assert wait_for(lambda n=i: len(results) > n and len(latency) > n, timeout=10.0)
        walls.append((time.monotonic() - sent) * 1e3)
    got = [(m.header.stamp.sec * 1_000_000_000 + m.header.stamp.nanosec, m.header.frame_id)
           for m in results.items]
    assert got == [(s, f'cam{i}') for i, s in enumerate(stamps)]
    assert all(len(m.results) == 3 for m in results.items)
    scores = [h.score for h in results.items[0].results]
    assert scores == sorted(scores, reverse=True) and 0.0 < sum(scores) <= 1.0 + 1e-6
    # Receipt to publish happens inside publish to arrival here: never longer than that.
    assert all(0.0 < m.data <= wall for m, wall in zip(latency.items, walls)), \
        ([m.data for m in latency.items], walls)


def test_bad_frames_are_rejected_and_counted_and_the_node_keeps_running(ros, engines):
    ns = unique_ns()
    node = make_node(ros, ns, classifier_params(engines))
    results = Collector(ros, vision_msgs.Classification, f'{ns}/inference_node/results')
    pub = ros.node('pub_bad').create_publisher(Image, f'{ns}/image', reliable(10))
    assert wait_for(lambda: pub.get_subscription_count() > 0)
    weird = image_msg(rgb(), 'rgb8')
    weird.encoding = '32FC7'
    short = image_msg(rgb(), 'rgb8')
    short.data = bytes(short.data[:100])
    for msg in (weird, short):
        pub.publish(msg)
        done = node.counters.get('rejected') + 1
        assert wait_for(lambda n=done: node.counters.get('rejected') == n, timeout=10.0), \
            node.counters.snapshot()
    pub.publish(image_msg(rgb(), 'rgb8'))
    assert wait_for(lambda: len(results) == 1)
    counts = node.counters.snapshot()
    assert counts['processed'] == 1 and counts['failed'] == 0


def test_invalid_parameters_are_refused_with_a_reason(ros, engines):
    ns = unique_ns()
    node = make_node(ros, ns, classifier_params(engines))
    results = Collector(ros, vision_msgs.Classification, f'{ns}/inference_node/results')
    pub = ros.node('pub_params').create_publisher(Image, f'{ns}/image', reliable(10))
    assert wait_for(lambda: pub.get_subscription_count() > 0)
    cases = {
        'precision': ('int8', ('engines.int8',)),
        'score_threshold': (2.0, ('<= 1.0', 'Max: 1.0')),
        'resize_mode': ('zoom', ('read-only',)),
        'task': ('detection', ('read-only',)),
    }
    for name, (value, words) in cases.items():
        result = node.set_parameters([Parameter(name, value=value)])[0]
        assert not result.successful, name
        assert any(w in result.reason for w in words), (name, result.reason)
    # A task parameter changes the next frame's result (top_k is 3 at start).
    assert node.set_parameters([Parameter('top_k', value=2)])[0].successful
    pub.publish(image_msg(rgb(), 'rgb8'))
    assert wait_for(lambda: len(results) == 1)
    assert len(results.items[0].results) == 2


def test_precision_swap_during_a_30fps_stream_loses_no_frame(ros, engines):
    ns = unique_ns()
    node = make_node(ros, ns, classifier_params(engines))
    results = Collector(ros, vision_msgs.Classification, f'{ns}/inference_node/results')
    pub = ros.node('pub_swap').create_publisher(Image, f'{ns}/image', reliable(10))
    assert wait_for(lambda: pub.get_subscription_count() > 0)
    frames = 90
    for i in range(frames):
        start = time.monotonic()
        pub.publish(image_msg(rgb(seed=i % 7), 'rgb8', stamp_ns=(i + 1) * 1000))
        if i == 30:
            assert node.set_parameters([Parameter('precision', value='fp16')])[0].successful
        # Pace at 30 fps, but let the worker take each frame before the next one comes, so
        # that a loaded CI machine cannot turn scheduling delays into overtaken frames: any
        # frame lost here is the swap's fault.
        assert wait_for(lambda n=i: accounted(node) > n, timeout=10.0), \
            node.counters.snapshot()
        time.sleep(max(0.0, 1.0 / 30.0 - (time.monotonic() - start)))
    assert wait_for(lambda: len(results) >= frames, timeout=15.0), \
        (len(results), node.counters.snapshot())
    counts = node.counters.snapshot()
    assert counts['received'] == frames
    assert counts['processed'] == frames, counts
    assert node.serving_precision == 'fp16'
    assert node.runner.name.endswith('b.onnx')


def test_face_detector_finds_the_astronaut_and_nothing_in_coffee(ros, face_model):
    skimage_data = pytest.importorskip('skimage.data')
    ns = unique_ns()
    make_node(ros, ns, {
        'engines.fp32': str(face_model), 'task': 'detection', 'detection_layout': 'ssd',
        'resize_mode': 'stretch', 'channel_order': 'rgb', 'scale': 1.0,
        'mean': [127.0, 127.0, 127.0], 'std': [128.0, 128.0, 128.0],
        # At the usual 0.7 this model scores the cup in coffee() as a face (0.80, measured
        # with its documented preprocessing); 0.9 keeps the astronaut and drops the cup.
        'score_threshold': 0.9, 'iou_threshold': 0.3})
    results = Collector(ros, vision_msgs.Detection2DArray, f'{ns}/inference_node/results')
    pub = ros.node('pub_face').create_publisher(Image, f'{ns}/image', reliable(10))
    assert wait_for(lambda: pub.get_subscription_count() > 0)
    pub.publish(image_msg(skimage_data.astronaut(), 'rgb8', frame_id='astronaut',
                          stamp_ns=1))
    assert wait_for(lambda: len(results) == 1)
    pub.publish(image_msg(skimage_data.coffee(), 'rgb8', frame_id='coffee', stamp_ns=2))
    assert wait_for(lambda: len(results) == 2)
    astronaut, coffee = results.items
    assert astronaut.header.frame_id == 'astronaut' and len(astronaut.detections) == 1
    box = astronaut.detections[0].bbox
    assert 170 < box.center.position.x < 250 and 40 < box.center.position.y < 130
    assert astronaut.detections[0].results[0].hypothesis.score >= 0.9
    assert coffee.header.frame_id == 'coffee' and len(coffee.detections) == 0


def test_compressed_input(ros, engines):
    ns = unique_ns()
    make_node(ros, ns, classifier_params(engines, input_transport='compressed'))
    results = Collector(ros, vision_msgs.Classification, f'{ns}/inference_node/results')
    pub = ros.node('pub_jpeg').create_publisher(
        CompressedImage, f'{ns}/image/compressed', reliable(10))
    assert wait_for(lambda: pub.get_subscription_count() > 0)
    ok, jpeg = cv2.imencode('.jpg', rgb())
    msg = CompressedImage(format='jpeg', data=jpeg.tobytes())
    msg.header.frame_id = 'jpeg'
    pub.publish(msg)
    assert wait_for(lambda: len(results) == 1)
    assert results.items[0].header.frame_id == 'jpeg'


def test_diagnostics_report_counters_and_latency(ros, engines):
    from diagnostic_msgs.msg import DiagnosticArray
    ns = unique_ns()
    make_node(ros, ns, classifier_params(engines))
    diags = Collector(ros, DiagnosticArray, '/diagnostics')
    pub = ros.node('pub_diag').create_publisher(Image, f'{ns}/image', reliable(10))
    assert wait_for(lambda: pub.get_subscription_count() > 0)
    pub.publish(image_msg(rgb(), 'rgb8'))

    def processed_reported() -> bool:
        for array in list(diags.items):
            for status in array.status:
                values = {kv.key: kv.value for kv in status.values}
                if ns[1:] in status.name and values.get('frames processed') == '1':
                    return 'inference p50 ms' in values and values['precision'] == 'fp32'
        return False
    assert wait_for(processed_reported, timeout=10.0)


def test_frames_from_another_process_arrive(ros, engines):
    ns = unique_ns()
    node = make_node(ros, ns, classifier_params(engines))
    assert wait_ready(ros, ns)
    script = textwrap.dedent(f"""
        import time, numpy as np, rclpy
        from sensor_msgs.msg import Image
        from rclpy.qos import qos_profile_sensor_data
        rclpy.init()
        n = rclpy.create_node('remote_camera')
        pub = n.create_publisher(Image, '{ns}/image', qos_profile_sensor_data)
        end = time.monotonic() + 10
        while pub.get_subscription_count() == 0 and time.monotonic() < end:
            time.sleep(0.05)
        time.sleep(1.0)
        data = np.full((480, 640, 3), 100, np.uint8).tobytes()
        for i in range(30):
            msg = Image(height=480, width=640, encoding='bgr8', step=640 * 3, data=data)
            msg.header.frame_id = 'remote'
            pub.publish(msg)
            time.sleep(0.1)
        time.sleep(0.5)
        n.destroy_node(); rclpy.shutdown()
    """)
    proc = subprocess.run([sys.executable, '-c', script], env=dict(os.environ),
                          timeout=60, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # Best-effort QoS between processes: frames may be lost on a loaded machine (we saw 22 of
    # 30 arrive during a CI run beside other jobs), but without the shipped profile not one
    # 640x480 frame (over Fast DDS's default 512 KB segment) arrives.
    assert wait_for(lambda: node.counters.get('processed') >= 15, timeout=10.0), \
        node.counters.snapshot()
    assert wait_for(lambda: accounted(node) == node.counters.get('received'), timeout=5.0)
    counts = node.counters.snapshot()
    assert counts['received'] == sum(v for k, v in counts.items() if k != 'received'), counts


def _report(tmp_path: Path, accuracies: Dict[str, float]) -> Path:
    """Write a schema-valid trade-off report with one row per precision."""
    from accel_ai_ros.precision_report import FORMAT
    from accel_ai_ros.precision_report import save_report
    rows = []
    for i, (precision, accuracy) in enumerate(accuracies.items()):
        latency = 3.0 - i
        rows.append({
            'variant': f'm_{precision}', 'precision': precision, 'backend': 'onnxruntime',
            'path': f'm_{precision}.onnx', 'size_bytes': 1000, 'latency_p50_ms': latency,
            'latency_p95_ms': latency, 'latency_p99_ms': latency, 'throughput_fps': 1.0,
            'infer_p50_ms': latency, 'infer_p95_ms': latency, 'infer_p99_ms': latency,
            'infer_throughput_fps': 1.0, 'peak_memory_mb': None, 'baseline_memory_mb': None,
            'accuracy_metric': 'top1', 'accuracy': accuracy, 'metrics': {}, 'agreement': {}})
    report = {'format': FORMAT, 'created': '', 'machine': {}, 'versions': {}, 'dataset': {},
              'task': 'classification', 'settings': {}, 'reference': 'fp32', 'rows': rows,
              'skipped': []}
    return save_report(report, tmp_path / 'report.json')


def test_precision_report_picks_the_recommended_precision_and_holds_the_floor(
        ros, engines, tmp_path):
    report = _report(tmp_path, {'fp32': 0.97, 'fp16': 0.96})
    node = make_node(ros, unique_ns(), classifier_params(
        engines, precision_report=str(report), use_recommended_precision=True,
        min_accuracy=0.965))
    assert wait_for(lambda: node.runner is not None)
    # fp16 is faster in the report but below the floor: the node starts from fp32.
    assert node.get_parameter('precision').value == 'fp32'
    refused = node.set_parameters([Parameter('precision', value='fp16')])[0]
    assert not refused.successful and 'min_accuracy' in refused.reason
    assert node.set_parameters([Parameter('min_accuracy', value=0.95)])[0].successful
    assert node.set_parameters([Parameter('precision', value='fp16')])[0].successful
    assert wait_for(lambda: node.serving_precision == 'fp16')


def test_precision_report_with_no_qualifying_precision_fails_configure(ros, engines, tmp_path):
    report = _report(tmp_path, {'fp32': 0.90, 'fp16': 0.89})
    node = make_node(ros, unique_ns(), classifier_params(
        engines, autostart=False, precision_report=str(report),
        use_recommended_precision=True, min_accuracy=0.95))
    assert node.trigger_configure() == FAILURE
    assert 'no configured precision' in node.last_error


def test_prebuilt_engines_make_the_first_swap_instant_and_ready_is_latched(ros, engines):
    ns = unique_ns()
    node = make_node(ros, ns, classifier_params(engines, prebuild_engines=True))
    # ~/ready turns true only once the fp16 engine is loaded and warm too (latched: a late
    # subscriber still gets it).
    assert wait_ready(ros, ns)
    assert node.set_parameters([Parameter('precision', value='fp16')])[0].successful
    pub = ros.node('pub_prebuild').create_publisher(Image, f'{ns}/image', reliable(10))
    assert wait_for(lambda: pub.get_subscription_count() > 0)
    pub.publish(image_msg(rgb(), 'rgb8'))
    assert wait_for(lambda: node.serving_precision == 'fp16')
    runner = node.runner
    assert runner is not None and runner.name.endswith('b.onnx') and runner.is_active
    assert node.trigger_deactivate() == SUCCESS
    assert not runner.is_active and node.runner is None


def test_ctrl_c_stops_the_node_process_cleanly(ros, engines):
    import signal
    ns = unique_ns()
    args = [sys.executable, '-m', 'accel_ai_ros.node', '--ros-args', '-r',
            f'__ns:={ns}', '-p', f'engines.fp32:={engines["fp32"]}',
            '-p', 'resize_mode:=stretch']
    proc = subprocess.Popen(args, env=dict(os.environ), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    output = []
    try:
        for line in proc.stdout:
            output.append(line)
            if 'running fp32' in line:
                break
        assert wait_ready(ros, ns), 'the node never latched ~/ready'
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=20)
        output.append(rest)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = ''.join(output)
    assert 'running fp32' in text, text[-2000:]
    assert proc.returncode == 0, text[-2000:]
    assert 'Traceback' not in text, text[-2000:]


def test_raw_tensors_and_annotated_image_are_published_when_asked(ros, engines):
    from std_msgs.msg import Float32MultiArray
    ns = unique_ns()
    node = make_node(ros, ns, classifier_params(engines, publish_raw=True,
                                                publish_annotated=True))
    raw = Collector(ros, Float32MultiArray, f'{ns}/inference_node/output')
    annotated = Collector(ros, Image, f'{ns}/inference_node/image_annotated',
                          qos_profile_sensor_data)
    pub = ros.node('pub_extras').create_publisher(Image, f'{ns}/image', reliable(10))
    assert wait_for(lambda: pub.get_subscription_count() > 0)
    assert wait_for(lambda: raw.matched() and annotated.matched())
    pub.publish(image_msg(rgb(48, 64), 'rgb8', frame_id='extras', stamp_ns=7))
    assert wait_for(lambda: len(raw) >= 1 and len(annotated) >= 1)
    tensor = raw.items[0]
    assert [d.label for d in tensor.layout.dim] == ['logits/0', 'logits/1']
    assert [d.size for d in tensor.layout.dim] == [1, 10] and len(tensor.data) == 10
    image = annotated.items[0]
    assert (image.header.frame_id, image.height, image.width, image.encoding) == \
        ('extras', 48, 64, 'bgr8')
    assert len(image.data) == 48 * 64 * 3
    # Runtime switch: turning the raw output off takes effect on the next frame.
    assert node.set_parameters([Parameter('publish_raw', value=False)])[0].successful
    pub.publish(image_msg(rgb(48, 64), 'rgb8', stamp_ns=8))
    assert wait_for(lambda: len(annotated) >= 2)
    time.sleep(0.3)
    assert len(raw) == 1


def test_node_warns_when_an_int8_model_runs_off_its_target(ros, engines, tmp_path, capfd):
    """A TensorRT-target INT8 model on ONNX Runtime's CPU provider: the node says so."""
    import onnx

    from accel_ai_ros.image_codec import DecodedImage
    from accel_ai_ros.preprocess import PreprocessSpec
    from accel_ai_ros_tools.variants.calibration import CalibrationReader
    from accel_ai_ros_tools.variants.int8 import quantize_int8
    spec = PreprocessSpec(32, 32, resize_mode='stretch')
    frames = [DecodedImage(rgb(seed=i), 'rgb') for i in range(3)]
    model = onnx.load(engines['fp32'])
    for target in ('tensorrt', 'cpu'):
        int8, _ = quantize_int8(model, spec, CalibrationReader(iter(frames), spec, 'input'),
                                target=target)
        path = tmp_path / f'{target}.onnx'
        onnx.save(int8, str(path))
        node = make_node(ros, unique_ns(), classifier_params(
            engines, autostart=False, **{'engines.fp32': str(path)}))
        assert node.trigger_configure() == SUCCESS and node.trigger_activate() == SUCCESS
        err = capfd.readouterr().err
        assert f'INT8 made for {target}' in err
        assert ('INT8 model made for TensorRT' in err) == (target == 'tensorrt')
        assert node.trigger_deactivate() == SUCCESS
