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

"""The real node on the GPU, on the path production takes: nothing primes CUDA first.

A YOLOv8n-shaped network (random weights, no download) is exported in the test with
``torch.export`` (the GPU path, PyTorch backend) and to ONNX (the CPU path, ONNX Runtime).
1920x1080 ``bgr8`` frames go through real DDS to real nodes. Needs PyTorch with a CUDA
device, rclpy and vision_msgs; skips with the reason otherwise (CI has no GPU).
"""

from pathlib import Path
import time
from typing import Any
from typing import Dict
from typing import List
from typing import Tuple

import numpy as np
import pytest
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from ros_harness import Collector
from ros_harness import reliable
from ros_harness import RosHarness
from ros_harness import unique_ns
from ros_harness import wait_for
from sensor_msgs.msg import Image
from std_msgs.msg import Float32MultiArray

torch = pytest.importorskip('torch', reason='PyTorch is not installed (GPU tests)')
vision_msgs = pytest.importorskip(
    'vision_msgs.msg', reason='vision_msgs is not built: run scripts/setup.sh')

from accel_ai_ros.messages import msg_to_tensors  # noqa: E402
from accel_ai_ros.node import InferenceNode  # noqa: E402
from accel_ai_ros_tools.bench_gpu import save_yolov8n_shaped  # noqa: E402
from accel_ai_ros_tools.bench_latency import make_frames  # noqa: E402
from accel_ai_ros_tools.image_source import fill_image  # noqa: E402

SUCCESS = TransitionCallbackReturn.SUCCESS
WIDTH, HEIGHT = 1920, 1080


@pytest.fixture(scope='module')
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Export the network (CPU only: nothing here touches CUDA); return its folder."""
    if not torch.cuda.is_available():
        pytest.skip('no CUDA device (GPU tests run on a GPU machine)')
    folder = tmp_path_factory.mktemp('yolov8n_shaped')
    save_yolov8n_shaped(torch, folder)
    return folder


def detector_params(model: Path, **extra: Any) -> Dict[str, Any]:
    """Return the node's parameters for the torch model (fp32 and fp16 from one file)."""
    params: Dict[str, Any] = {
        'engines.fp32': str(model / 'yolov8n_shaped.pt2'),
        'engines.fp16': str(model / 'yolov8n_shaped.pt2'), 'precision': 'fp32',
        'task': 'detection', 'detection_layout': 'yolov8', 'resize_mode': 'letterbox',
        'channel_order': 'rgb', 'score_threshold': 0.02, 'max_frame_age_ms': 0.0}
    params.update(extra)
    return params


def make_node(ros: RosHarness, ns: str, overrides: Dict[str, Any]) -> InferenceNode:
    """Create an inference node in ``ns`` (it configures and activates itself)."""
    params = [Parameter(k, value=v) for k, v in overrides.items()]
    return ros.add(InferenceNode(namespace=ns, context=ros.context, parameter_overrides=params))


def frames(count: int = 4) -> List[Image]:
    """Return 1080p bgr8 Image messages (colour bars and noise), stamped 1, 2, ... ms."""
    messages = []
    for index, pixels in enumerate(make_frames(WIDTH, HEIGHT, count=count)):
        msg = fill_image(Image(), pixels, 'bgr8')
        msg.header.frame_id = 'camera'
        msg.header.stamp.nanosec = (index + 1) * 1_000_000
        messages.append(msg)
    return messages


def active(node: InferenceNode, publisher: Any) -> bool:
    """Return True once the node serves and the publisher sees its subscription."""
    return node._subscription is not None and publisher.get_subscription_count() > 0


def boxes(msg: Any) -> List[Tuple[int, float, np.ndarray]]:
    """Return (class, score, x1 y1 x2 y2) per detection of a Detection2DArray."""
    out = []
    for det in msg.detections:
        hyp = det.results[0].hypothesis
        cx, cy = det.bbox.center.position.x, det.bbox.center.position.y
        w, h = det.bbox.size_x, det.bbox.size_y
        out.append((str(hyp.class_id), float(hyp.score),
                    np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])))
    return out


def matched_share(expected: List[Tuple[Any, float, np.ndarray]],
                  got: List[Tuple[Any, float, np.ndarray]], pixels: float) -> float:
    """Return the share of ``expected`` detections found in ``got`` (same class, corners close)."""
    if not expected:
        return 1.0 if not got else 0.0
    found = 0
    for cls, score, box in expected:
        if any(c == cls and abs(s - score) < 0.05 and np.abs(b - box).max() <= pixels
               for c, s, b in got):
            found += 1
    return found / len(expected)


def test_gpu_node_publishes_the_cpu_paths_detections(ros, model):
    """fp32 on the GPU (TF32 off) matches ONNX Runtime on the CPU; fp16 within tolerance."""
    gpu_ns, cpu_ns = unique_ns('gpu'), unique_ns('gpu')
    gpu = make_node(ros, gpu_ns, detector_params(model, publish_raw=True))
    cpu = make_node(ros, cpu_ns, detector_params(
        model, publish_raw=True, **{'engines.fp32': str(model / 'yolov8n_shaped.onnx'),
                                    'engines.fp16': ''}))
    results = {ns: Collector(ros, vision_msgs.Detection2DArray, f'{ns}/inference_node/results')
               for ns in (gpu_ns, cpu_ns)}
    raw = {ns: Collector(ros, Float32MultiArray, f'{ns}/inference_node/output')
           for ns in (gpu_ns, cpu_ns)}
    pubs = {ns: ros.node(f'pub_{ns[1:]}').create_publisher(Image, f'{ns}/image', reliable(2))
            for ns in (gpu_ns, cpu_ns)}
    assert wait_for(lambda: active(gpu, pubs[gpu_ns]) and active(cpu, pubs[cpu_ns]), 60.0), \
        (gpu._last_error, cpu._last_error)
    assert gpu._pipeline.runner.backend_name == 'torch'
    assert cpu._pipeline.runner.backend_name == 'onnxruntime'
    messages = frames(2)
    # Random weights: a threshold that lets the 30 best anchors of the first frame through.
    pubs[cpu_ns].publish(messages[0])
    assert wait_for(lambda: len(raw[cpu_ns]) > 0, 30.0), cpu.counters.snapshot()
    best = msg_to_tensors(raw[cpu_ns].items[-1])['output0'][0, 4:].max(axis=0)
    threshold = float(np.sort(best)[-30])
    for node in (gpu, cpu):
        assert node.set_parameters([Parameter('score_threshold', value=threshold)])[0].successful
    for precision, atol, pixels in (('fp32', 0.05, 0.5), ('fp16', 1.0, 3.0)):
        if precision != 'fp32':
            assert gpu.set_parameters([Parameter('precision', value=precision)])[0].successful
            assert wait_for(lambda p=precision: gpu._serving_precision == p, 60.0), \
                gpu._last_error
            assert gpu._pipeline.runner.precision == precision
        for msg in messages:
            counts = {ns: len(results[ns]) for ns in pubs}
            for ns, pub in pubs.items():
                pub.publish(msg)
            assert wait_for(lambda: all(len(results[ns]) > counts[ns] and
                                        len(raw[ns]) > counts[ns] for ns in pubs), 30.0), \
                (gpu.counters.snapshot(), cpu.counters.snapshot(), gpu._last_error)
            ours = msg_to_tensors(raw[gpu_ns].items[-1])['output0']
            theirs = msg_to_tensors(raw[cpu_ns].items[-1])['output0']
            assert ours.shape == theirs.shape == (1, 84, 8400)
            assert np.abs(ours - theirs).max() <= atol, (precision, np.abs(ours - theirs).max())
            expected = boxes(results[cpu_ns].items[-1])
            got = boxes(results[gpu_ns].items[-1])
            assert expected, 'the CPU path found nothing: the test frames say too little'
            assert matched_share(expected, got, pixels) >= (0.95 if precision == 'fp32'
                                                            else 0.8), (precision, len(expected),
                                                                        len(got))
    assert gpu.counters.get('failed') == 0 and cpu.counters.get('failed') == 0


def test_live_fp32_fp16_fp32_swap_on_the_gpu_loses_no_frame(ros, model):
    ns = unique_ns('gpu')
    node = make_node(ros, ns, detector_params(model))
    results = Collector(ros, vision_msgs.Detection2DArray, f'{ns}/inference_node/results')
    pub = ros.node('pub_swap').create_publisher(Image, f'{ns}/image', reliable(2))
    assert wait_for(lambda: active(node, pub), 60.0), node._last_error
    messages = frames(4)
    count, swaps = 150, {20: 'fp16', 80: 'fp32'}
    for i in range(count):
        start = time.monotonic()
        pub.publish(messages[i % len(messages)])
        if i in swaps:
            assert node.set_parameters([Parameter('precision', value=swaps[i])])[0].successful
        # 30 fps, each frame taken before the next: a frame lost here is the swap's fault.
        assert wait_for(lambda n=i: node.counters.get('received') > n
                        and node._pipeline.waiting == 0, timeout=10.0), \
            node.counters.snapshot()
        time.sleep(max(0.0, 1.0 / 30.0 - (time.monotonic() - start)))
    assert wait_for(lambda: len(results) >= count, timeout=30.0), \
        (len(results), node.counters.snapshot(), node._last_error)
    counts = node.counters.snapshot()
    assert counts['received'] == counts['processed'] == count, counts
    assert node._serving_precision == 'fp32' and node._last_error == ''
    assert node._pipeline.runner.precision == 'fp32'


@pytest.mark.parametrize('device', range(torch.cuda.device_count() + 1))
def test_gpu_device_is_honoured_on_every_thread(ros, model, device):
    available = torch.cuda.device_count()
    ns = unique_ns('gpu')
    node = make_node(ros, ns, detector_params(model, gpu_device=device))
    if device >= available:
        assert wait_for(lambda: bool(node._last_error), 60.0)
        assert 'gpu_device' in node._last_error and node._subscription is None
        return
    results = Collector(ros, vision_msgs.Detection2DArray, f'{ns}/inference_node/results')
    pub = ros.node('pub_device').create_publisher(Image, f'{ns}/image', reliable(2))
    assert wait_for(lambda: active(node, pub), 60.0), node._last_error
    pub.publish(frames(1)[0])
    assert wait_for(lambda: len(results) == 1, 30.0), node.counters.snapshot()
    runner = node._pipeline.runner
    assert runner._dev == torch.device('cuda', device)
    assert runner._static_in[0].device == torch.device('cuda', device)
    assert runner._gpu_input.current.device == device  # built on the worker thread
    assert runner.uses_frame_graph, runner._frame_graph_error


def test_deactivate_frees_device_memory(ros, model):
    before = (torch.cuda.memory_allocated(0), torch.cuda.memory_reserved(0))
    ns = unique_ns('gpu')
    node = make_node(ros, ns, detector_params(model, precision='fp16'))
    results = Collector(ros, vision_msgs.Detection2DArray, f'{ns}/inference_node/results')
    pub = ros.node('pub_memory').create_publisher(Image, f'{ns}/image', reliable(2))
    assert wait_for(lambda: active(node, pub), 60.0), node._last_error
    pub.publish(frames(1)[0])
    assert wait_for(lambda: len(results) == 1, 30.0), node.counters.snapshot()
    serving = (torch.cuda.memory_allocated(0), torch.cuda.memory_reserved(0))
    assert serving[0] > before[0] + 1_000_000, (before, serving)  # weights, buffers, graph
    assert node.trigger_deactivate() == SUCCESS
    after = (torch.cuda.memory_allocated(0), torch.cuda.memory_reserved(0))
    # Every tensor of the runner is freed; the allocator gave most of its cache back too
    # (docs/gpu.md records what stays reserved).
    assert after[0] <= before[0], (before, serving, after)
    assert after[1] < serving[1], (before, serving, after)
