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

"""Several cameras in one component_container: one shared engine, results per camera.

Cameras and inference nodes are loaded through the container's LoadNode path (the real
``ComponentContainer.load`` with real requests) into one rclpy context; frames travel over
DDS or the in-process hand-off, results are read by a subscriber.
"""

import os
from pathlib import Path
import threading
from typing import Any
from typing import Dict
from typing import Iterator
from typing import List

from models import make_classifier
import numpy as np
import pytest
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from ros_harness import reliable
from ros_harness import RosHarness
from ros_harness import wait_for
from sensor_msgs.msg import Image

composition = pytest.importorskip(
    'composition_interfaces.srv', reason='composition_interfaces is not importable; in a '
    'virtual env run scripts/build_interfaces.sh')
vision_msgs = pytest.importorskip('vision_msgs.msg', reason='vision_msgs is not importable')

from accel_ai_ros import shared_engine  # noqa: E402
from accel_ai_ros.container import ComponentContainer  # noqa: E402

CAMERAS = 4


def load_request(plugin: str, name: str, namespace: str, params: Dict[str, Any],
                 extra: Dict[str, Any]) -> Any:
    """Return a LoadNode request for an accel_ai_ros plugin."""
    request = composition.LoadNode.Request()
    request.package_name = 'accel_ai_ros'
    request.plugin_name = plugin
    request.node_name = name
    request.node_namespace = namespace
    request.parameters = [Parameter(k, value=v).to_parameter_msg() for k, v in params.items()]
    request.extra_arguments = [Parameter(k, value=v).to_parameter_msg()
                               for k, v in extra.items()]
    return request


@pytest.fixture
def container() -> Iterator[ComponentContainer]:
    """Yield a ComponentContainer spinning in a private context."""
    with RosHarness() as ros:
        node = ros.add(ComponentContainer(f'mc_container_{os.getpid()}', context=ros.context))
        node.harness = ros
        try:
            yield node
        finally:
            node.unload_all()


def _load_cameras(container: ComponentContainer, engine: Path, ns: str,
                  intra: bool) -> List[Any]:
    """Load CAMERAS image sources and inference nodes sharing ``engine``."""
    extra = {'use_intra_process_comms': True} if intra else {}
    nodes = []
    for i in range(CAMERAS):
        camera_ns = f'{ns}/cam{i}'
        container.load(load_request(
            'accel_ai_ros::ImageSource', 'camera', camera_ns,
            {'source': 'pattern', 'width': 64, 'height': 48, 'rate_hz': 30.0,
             'frame_id': f'cam{i}_optical'}, extra))
        _, node = container.load(load_request(
            'accel_ai_ros::InferenceNode', 'inference', camera_ns,
            {'engines.fp32': str(engine), 'task': 'classification', 'resize_mode': 'stretch',
             'share_engine': True, 'max_batch': 4,
             # Arrays arrive as array('d') from a LoadNode request: the node takes them.
             'mean': [0.0, 0.0, 0.0], 'std': [1.0, 1.0, 1.0]},
            extra))
        nodes.append(node)
    return nodes


@pytest.mark.parametrize('intra', [False, True], ids=['dds', 'in_process'])
def test_four_cameras_share_one_engine_and_keep_their_own_results(
        container: ComponentContainer, tmp_path: Path, intra: bool) -> None:
    """Each camera's results come on its namespace with its own header; one engine loaded."""
    engine = make_classifier(tmp_path / 'batched.onnx', input_shape=('batch', 3, 32, 32))
    ns = f'/mc{os.getpid()}{"i" if intra else "d"}'
    loads_before = shared_engine.ENGINES.loads
    ros: RosHarness = container.harness  # type: ignore[attr-defined]
    results: Dict[int, List[Any]] = {i: [] for i in range(CAMERAS)}
    lock = threading.Lock()
    listener = ros.node('mc_listener')
    for i in range(CAMERAS):
        def on_result(msg: Any, i: int = i) -> None:
            with lock:
                results[i].append(msg)
        listener.create_subscription(vision_msgs.Classification,
                                     f'{ns}/cam{i}/inference/results', on_result, reliable())
    nodes = _load_cameras(container, engine, ns, intra)
    assert wait_for(lambda: all(len(r) >= 10 for r in results.values()), timeout=60.0), \
        {i: len(r) for i, r in results.items()}

    assert shared_engine.ENGINES.loads == loads_before + 1, 'the engine was loaded again'
    runners = [n._pipeline.runner for n in nodes]
    engines = {id(r.engine) for r in runners}
    assert len(engines) == 1 and runners[0].engine.users == CAMERAS
    for i in range(CAMERAS):
        with lock:
            msgs = list(results[i])
        assert {m.header.frame_id for m in msgs} == {f'cam{i}_optical'}
        stamps = [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in msgs]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
        counters = nodes[i].counters.snapshot()
        assert counters['processed'] >= 10, counters
    if intra:
        sources = [n for n in container.nodes.values() if n.get_name() == 'camera']
        assert all(s.publisher.delivered_in_process > 0 for s in sources)
        # Nobody else subscribes to the images: once the inference nodes subscribed, frames
        # no longer go through DDS.
        dds = [s.publisher.published_dds for s in sources]
        local = sources[0].publisher.delivered_in_process
        assert wait_for(lambda: sources[0].publisher.delivered_in_process >= local + 10, 30.0)
        assert [s.publisher.published_dds for s in sources] == dds
        # Another subscriber appears on camera 0: DDS carries the frames to it, and the
        # inference node does not take its DDS copies as new frames.
        received = []
        listener.create_subscription(Image, f'{ns}/cam0/image', received.append,
                                     qos_profile_sensor_data)
        assert wait_for(lambda: len(received) >= 10, timeout=30.0)
        assert sources[0].publisher.published_dds > 0
        counted = nodes[0].counters.snapshot()['received']
        assert counted <= sources[0].published, (counted, sources[0].published)
    for unique_id in sorted(container.nodes):
        container.unload(unique_id)
    assert len(shared_engine.ENGINES) == 0, 'the last node did not free the engine'


@pytest.mark.parametrize('batch', ['batch', 4], ids=['dynamic_batch', 'fixed_batch_4'])
def test_batched_outputs_match_one_frame_at_a_time(tmp_path: Path, batch: Any) -> None:
    """Frames run as one batch give the outputs each gives alone, in order.

    A dynamic batch takes the waiting frames concatenated, a fixed batch of 4 takes them
    padded; each handle sees batch 1.
    """
    from accel_ai_ros.engines.selection import loader_for
    engine = make_classifier(tmp_path / 'batched.onnx', input_shape=(batch, 3, 32, 32))
    single = make_classifier(tmp_path / 'single.onnx', input_shape=(1, 3, 32, 32))
    load = loader_for({'engines.fp32': str(engine)}, 'fp32')
    engines = shared_engine.SharedEngines()
    handles = [shared_engine.SharedRunner(load, 4, engines) for _ in range(4)]
    for handle in handles:
        handle.activate()
    assert engines.loads == 1
    assert handles[0].inputs()[0].shape[0] in (1, 'batch')
    rng = np.random.default_rng(0)
    feeds = [{'input': rng.random((1, 3, 32, 32), dtype=np.float32)} for _ in handles]
    reference = loader_for({'engines.fp32': str(single)}, 'fp32')()
    alone = [reference.infer(f)['logits'] for f in feeds]
    reference.deactivate()
    barrier = threading.Barrier(len(handles))
    mismatches: List[str] = []

    def run(i: int) -> None:
        for _ in range(30):
            barrier.wait()
            got = handles[i].infer(feeds[i])['logits']
            if not np.allclose(got, alone[i], rtol=1e-5, atol=1e-6):
                mismatches.append(f'handle {i}: {got} != {alone[i]}')
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(handles))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not mismatches, mismatches[:3]
    shared = handles[0].engine
    # Four threads released together queue behind one another: some calls carried several.
    assert shared.frames == 4 * 30, shared.frames
    assert shared.calls < shared.frames, (shared.calls, shared.frames)
    assert float(handles[0].health()['shared engine mean batch']) > 1.0
    assert handles[0].health()['shared engine nodes'] == '4'
    for handle in handles:
        handle.deactivate()
    assert len(engines) == 0
