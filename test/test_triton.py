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

"""The Triton backend against a real tritonserver on 127.0.0.1 (test/triton_server.py).

Runner-level behaviour the contract suite does not cover (URLs, errors naming the fix, shared
memory against the wire, a server killed and restarted), the repository writer, and the node
end to end: results equal to the local ONNX Runtime backend, a precision swap that is a
model-name swap, and a server killed mid-stream with failed frames counted.
"""

from pathlib import Path
import signal
import time
from typing import Any
from typing import Dict

from models import make_classifier
from models import make_dynamic_model
import numpy as np
import pytest

from accel_ai_ros.backends.base import activated
from accel_ai_ros.backends.onnxruntime.runner import OnnxRuntimeRunner
from accel_ai_ros.backends.registry import available_backends
from accel_ai_ros.backends.triton.runner import TritonRunner
from accel_ai_ros.backends.triton.url import parse_triton_url
from accel_ai_ros.engines.loaders import backend_for_path
from accel_ai_ros.engines.loaders import RunnerFromFile
from accel_ai_ros.engines.selection import loader_for
from accel_ai_ros.errors import EngineError
from accel_ai_ros.errors import InferenceError
from accel_ai_ros.errors import ParameterError
from accel_ai_ros.params import defaults
from accel_ai_ros_tools.triton_repo import model_config
from accel_ai_ros_tools.triton_repo import write_model

FEED = {'input': np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)}


@pytest.fixture
def client_library() -> None:
    """Skip when tritonclient cannot be imported."""
    error = available_backends()['triton']
    if error is not None:
        pytest.skip(f'triton is unavailable: {error}')


@pytest.fixture
def server(client_library: None, triton_server: Any) -> Any:
    """Return the session's Triton server."""
    return triton_server


@pytest.fixture
def classifier(server: Any, tmp_path: Path) -> Dict[str, Any]:
    """Serve a classifier as 'cls'; return its ONNX path and URL."""
    path = make_classifier(tmp_path / 'cls.onnx', seed=3)
    return {'onnx': path, 'url': server.deploy(path, 'cls')}


def local(path: Path, feed: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Return ONNX Runtime's outputs for ``feed`` on this machine."""
    with OnnxRuntimeRunner(path) as runner:
        return runner.infer(feed)


# -- URLs and the backend table ---------------------------------------------------------------

def test_urls_name_protocol_server_model_and_version() -> None:
    """triton:// is gRPC on 8001, triton+http:// is HTTP on 8000; bad URLs name the form."""
    ref = parse_triton_url('triton://127.0.0.1/face_fp16/2')
    assert (ref.protocol, ref.host, ref.port, ref.model, ref.version) == \
        ('grpc', '127.0.0.1', 8001, 'face_fp16', '2')
    assert ref.is_local and str(ref) == 'triton://127.0.0.1:8001/face_fp16/2'
    http = parse_triton_url('triton+http://gpu-server:9000/face')
    assert (http.protocol, http.port, http.version, http.is_local) == ('http', 9000, '', False)
    assert parse_triton_url('triton://[::1]:8001/m').address == '[::1]:8001'
    for bad in ('triton://host:8001', 'triton://host:8001/m/v1', 'triton://:8001/m',
                'triton://host:x/m', 'triton://host/a/1/2'):
        with pytest.raises(ParameterError, match='triton://127.0.0.1:8001'):
            parse_triton_url(bad)
    assert parse_triton_url('triton://localhost/m').is_local
    assert parse_triton_url('triton://127.0.0.2/m').is_local
    assert not parse_triton_url('triton://10.0.0.7/m').is_local
    assert backend_for_path('triton://h:1/m/1') == 'triton'
    assert backend_for_path('TRITON+HTTP://h:1/m') == 'triton'
    with pytest.raises(EngineError, match='triton://'):
        backend_for_path('grpc://h:1/m')
    with pytest.raises(ParameterError, match='shared_memory'):
        TritonRunner('triton://h/m', shared_memory='cuda')


def test_engine_entries_reach_the_runner_unchanged(tmp_path: Path) -> None:
    """A URL in engines.<precision> is neither resolved against model_dir nor checked as a file."""
    values = dict(defaults(), model_dir=str(tmp_path), **{
        'engines.fp16': 'triton://127.0.0.1:8001/face_fp16/1', 'triton.timeout_ms': 250.0})
    loader = loader_for(values, 'fp16')
    assert isinstance(loader, RunnerFromFile)
    assert loader.resolved_backend() == 'triton'
    assert loader.path == 'triton://127.0.0.1:8001/face_fp16/1'
    assert loader.options == {'timeout_ms': 250.0, 'shared_memory': 'auto'}
    values['backend'] = 'onnxruntime'
    with pytest.raises(ParameterError, match='set backend to triton or auto'):
        loader_for(values, 'fp16')()


# -- errors that name the fix ---------------------------------------------------------------

def test_wrong_port_unknown_model_and_unloadable_model(server: Any, tmp_path: Path) -> None:
    """Each start-up failure is one EngineError that says what is wrong and what to do."""
    from triton_server import free_port
    with pytest.raises(EngineError, match='cannot reach the Triton server') as info:
        RunnerFromFile(f'triton://127.0.0.1:{free_port()}/cls/1', timeout_ms=500)()
    assert 'fix the URL' in str(info.value) and '\n' not in str(info.value)
    server.deploy(make_classifier(tmp_path / 'known.onnx'), 'known')
    with pytest.raises(EngineError, match="no model 'nope'") as info:
        RunnerFromFile(server.url('nope'))()
    assert 'known' in str(info.value)
    folder = write_model(server.repo, 'broken', make_classifier(tmp_path / 'b.onnx'), 'python')
    (folder / '1' / 'model.onnx').write_bytes(b'not an onnx model')  # damaged on the server
    server.load('broken', check=False)
    with pytest.raises(EngineError, match='not ready') as info:
        RunnerFromFile(server.url('broken'))()
    assert 'UNAVAILABLE' in str(info.value) and 'broken' in str(info.value)


def test_requests_the_server_refuses_are_inference_errors(classifier: Dict[str, Any]) -> None:
    """A feed the runner cannot check (values) fails on the server with its message."""
    with TritonRunner(classifier['url']) as runner:
        with pytest.raises(InferenceError, match='float32'):
            runner.infer({'input': FEED['input'].astype(np.float16)})
        assert runner.health()['triton state'] == 'live, model ready'


# -- transports ---------------------------------------------------------------------------------

def test_shared_memory_and_wire_give_the_local_results(server: Any,
                                                       classifier: Dict[str, Any]) -> None:
    """System shared memory (registered once), gRPC and HTTP all equal ONNX Runtime here."""
    import tritonclient.grpc as grpcclient
    want = local(classifier['onnx'], FEED)['logits']
    admin = grpcclient.InferenceServerClient(f'127.0.0.1:{server.grpc_port}')
    before = set(admin.get_system_shared_memory_status(as_json=True).get('regions', {}))
    with activated(TritonRunner(classifier['url'])) as shm:
        assert shm.health()['triton transport'] == 'system shared memory'
        regions = set(admin.get_system_shared_memory_status(as_json=True)['regions']) - before
        assert len(regions) == 2  # one input, one output
        for _ in range(20):
            np.testing.assert_allclose(shm.infer(FEED)['logits'], want, rtol=1e-5, atol=1e-5)
        after = set(admin.get_system_shared_memory_status(as_json=True)['regions']) - before
        assert after == regions
    status = admin.get_system_shared_memory_status(as_json=True).get('regions', {})
    assert not set(status) & regions  # unregistered on deactivate
    for url, mode, transport in (
            (classifier['url'], 'off', 'grpc (triton.shared_memory is off)'),
            (server.url('cls', 'http'), 'off', 'http (triton.shared_memory is off)'),
            (server.url('cls', 'http'), 'system', 'system shared memory')):
        with activated(TritonRunner(url, shared_memory=mode)) as other:
            assert other.health()['triton transport'] == transport
            np.testing.assert_allclose(other.infer(FEED)['logits'], want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('protocol', ['grpc', 'http'])
def test_activated_on_one_thread_used_on_others(server: Any, classifier: Dict[str, Any],
                                                protocol: str) -> None:
    """The node loads on a loader thread and infers on its worker: both protocols allow it."""
    import threading
    want = local(classifier['onnx'], FEED)['logits']
    made: Dict[str, Any] = {}
    loader = threading.Thread(target=lambda: made.setdefault(
        'runner', activated(TritonRunner(server.url('cls', protocol)))))
    loader.start()
    loader.join()
    answers: Dict[str, Any] = {}

    def worker(name: str) -> None:
        try:
            answers[name] = made['runner'].infer(FEED)['logits']
        except Exception as error:  # noqa: B902 - the test reports it below
            answers[name] = error
    for name in ('first', 'second'):
        thread = threading.Thread(target=worker, args=(name,))
        thread.start()
        thread.join()
    made['runner'].deactivate()
    for name, got in answers.items():
        assert isinstance(got, np.ndarray), f'{name}: {got}'
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('protocol', ['grpc', 'http'])
def test_a_model_unloaded_and_loaded_again(server: Any, tmp_path: Path, protocol: str) -> None:
    """Frames fail while the model is unloaded, /diagnostics says why, and it comes back."""
    name = f'reload_{protocol}'
    path = make_classifier(tmp_path / 'r.onnx', seed=11)
    url = server.deploy(path, name)
    with activated(TritonRunner(server.url(name, protocol))) as runner:
        server.unload(name)
        with pytest.raises(InferenceError, match='counted as failed'):
            runner.infer(FEED)
        state = runner.health()['triton state']
        assert state.startswith('unavailable') and 'ready' in state, state
        server.load(name)
        deadline = time.monotonic() + 30
        while True:
            try:
                got = runner.infer(FEED)['logits']
                break
            except InferenceError:
                assert time.monotonic() < deadline, 'the model never came back'
                time.sleep(0.1)
        np.testing.assert_allclose(got, local(path, FEED)['logits'], rtol=1e-5, atol=1e-5)
        assert runner.health()['triton state'] == 'live, model ready'
    assert url


def test_batched_repository_model_runs_batches(server: Any, tmp_path: Path) -> None:
    """A model with a dynamic first dimension gets dynamic batching and runs batch 3."""
    import onnx
    path = make_dynamic_model(tmp_path / 'dyn.onnx')
    config = model_config(onnx.load(str(path)), 'dyn', 'python', 'fp32', max_batch=8)
    assert 'max_batch_size: 8' in config and 'preferred_batch_size: [ 4, 8 ]' in config
    assert 'max_queue_delay_microseconds: 500' in config
    assert 'dims: [ 3, -1, -1 ]' in config and 'KIND_CPU' in config
    url = server.deploy(path, 'dyn')
    feed = {'input': np.random.default_rng(1).standard_normal((3, 3, 16, 16)).astype(
        np.float32)}
    with TritonRunner(url) as runner:
        assert runner.inputs()[0].shape == (None, 3, None, None)
        # Outputs with a dynamic batch fit the regions sized by the request's batch.
        np.testing.assert_allclose(runner.infer(feed)['logits'], local(path, feed)['logits'],
                                   rtol=1e-5, atol=1e-5)
        assert runner.max_batch == 8
        with pytest.raises(InferenceError, match='max_batch_size 8'):
            runner.infer({'input': np.zeros((9, 3, 16, 16), np.float32)})


def test_repository_configs_for_gpu_servers(tmp_path: Path) -> None:
    """The onnxruntime and tensorrt kinds: platform, GPU instances, TensorRT accelerator."""
    import onnx
    model = onnx.load(str(make_classifier(tmp_path / 'c.onnx')))
    plain = model_config(model, 'c_fp32', 'onnxruntime', 'fp32', instances=2)
    assert 'platform: "onnxruntime_onnx"' in plain and 'max_batch_size: 0' in plain
    assert 'instance_group [ { kind: KIND_GPU count: 2 } ]' in plain
    assert 'dims: [ 1, 3, 32, 32 ]' in plain and 'No dynamic batching' in plain
    trt = model_config(model, 'c_fp16', 'tensorrt', 'fp16')
    assert 'name: "tensorrt"' in trt and 'value: "FP16"' in trt
    folder = write_model(tmp_path / 'repo', 'c_fp16', tmp_path / 'c.onnx', 'tensorrt', 'fp16')
    assert sorted(p.name for p in folder.rglob('*')) == ['1', 'config.pbtxt', 'model.onnx']


# -- a server that goes away ------------------------------------------------------------------

def test_server_killed_and_restarted(client_library: None, tmp_path: Path,
                                     caplog: pytest.LogCaptureFixture) -> None:
    """Frames fail (fast) while the server is gone; the runner reconnects once it is back."""
    import triton_server
    try:
        own = triton_server.start_server(tmp_path / 'repo', tmp_path / 'server.log')
    except triton_server.ServerUnavailable as exc:
        pytest.skip(f'no Triton server: {exc}')
    try:
        path = make_classifier(tmp_path / 'k.onnx', seed=5)
        want = local(path, FEED)['logits']
        runner = activated(TritonRunner(own.deploy(path, 'k'), timeout_ms=500))
        np.testing.assert_allclose(runner.infer(FEED)['logits'], want, rtol=1e-5, atol=1e-5)
        own.stop(signal.SIGKILL)
        with pytest.raises(InferenceError, match='counted as failed'):
            runner.infer(FEED)
        assert runner.health()['triton state'].startswith('unavailable')
        start = time.monotonic()
        with pytest.raises(InferenceError, match='next reconnection attempt'):
            runner.infer(FEED)  # fails at once, no request
        assert time.monotonic() - start < 0.1
        own.restart()
        deadline = time.monotonic() + 30
        while True:
            try:
                got = runner.infer(FEED)['logits']
                break
            except InferenceError:
                assert time.monotonic() < deadline, 'the runner did not reconnect'
                time.sleep(0.1)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        # (more than one where a request timed out again on a loaded machine)
        assert runner.reconnect_count >= 1 and runner.unavailable_count >= runner.reconnect_count
        assert runner.health()['triton transport'] == 'system shared memory'
        runner.deactivate()
    finally:
        own.stop()


# -- the node end to end ----------------------------------------------------------------------

def _boxes(msg: Any) -> np.ndarray:
    return np.array([[d.bbox.center.position.x, d.bbox.center.position.y, d.bbox.size_x,
                      d.bbox.size_y, d.results[0].hypothesis.score] for d in msg.detections])


def _config(name: str) -> Dict[str, Any]:
    """Return the parameters that config/<name> sets."""
    from accel_ai_ros.params import read_params_file
    return read_params_file(Path(__file__).resolve().parents[1] / 'config' / name)


def test_node_results_match_the_local_backend(ros: Any, server: Any, face_model: Path) -> None:
    """The shipped Triton face config and the local one find the same faces in the same photos."""
    skimage_data = pytest.importorskip('skimage.data')
    from ros_harness import Collector
    from ros_harness import image_msg
    from ros_harness import reliable
    from ros_harness import unique_ns
    from ros_harness import wait_for
    from sensor_msgs.msg import Image
    from test_node import make_node
    from test_node import vision_msgs
    server.deploy(face_model, 'face_detector_fp32')
    remote = _config('face_detector_triton.yaml')
    for key in ('engines.fp32', 'engines.fp16'):
        remote[key] = remote[key].replace('127.0.0.1:8001', f'127.0.0.1:{server.grpc_port}')
    here = dict(_config('face_detector.yaml'), **{'engines.fp32': str(face_model)})
    for key in ('score_threshold', 'iou_threshold'):  # the same decoding both ways
        remote[key] = here[key] = 0.5 if key == 'score_threshold' else here[key]
    results = {}
    pubs = {}
    for name, params in (('triton', remote), ('local', here)):
        ns = unique_ns()
        node = make_node(ros, ns, params)
        results[name] = Collector(ros, vision_msgs.Detection2DArray,
                                  f'{ns}/inference_node/results')
        pubs[name] = ros.node(f'pub_{name}').create_publisher(Image, f'{ns}/image',
                                                              reliable(10))
        assert wait_for(lambda: node._subscription is not None
                        and pubs[name].get_subscription_count() > 0, timeout=30)
        assert node._pipeline.runner.backend_name == ('triton' if name == 'triton'
                                                      else 'onnxruntime')
    for stamp, image in enumerate((skimage_data.astronaut(), skimage_data.coffee()), 1):
        for pub in pubs.values():
            pub.publish(image_msg(image, 'rgb8', stamp_ns=stamp))
        assert wait_for(lambda: all(len(c) == stamp for c in results.values()), timeout=30)
    for remote_msg, here_msg in zip(results['triton'].items, results['local'].items):
        assert remote_msg.header.stamp == here_msg.header.stamp
        assert len(remote_msg.detections) == len(here_msg.detections)
        np.testing.assert_allclose(_boxes(remote_msg), _boxes(here_msg), rtol=1e-4, atol=1e-3)
    assert len(results['triton'].items[0].detections) >= 1


def _diagnostics(collector: Any, ns: str) -> Dict[str, str]:
    for array in reversed(list(collector.items)):
        for status in array.status:
            if ns[1:] in status.name:
                values = {kv.key: kv.value for kv in status.values}
                values['message'] = status.message
                return values
    return {}


def test_node_swaps_models_and_refuses_one_that_is_not_ready(ros: Any, server: Any,
                                                             tmp_path: Path) -> None:
    """A precision is a model name on the server; a model that is not there is refused."""
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.parameter import Parameter
    from ros_harness import Collector
    from ros_harness import image_msg
    from ros_harness import reliable
    from ros_harness import unique_ns
    from ros_harness import wait_for
    from sensor_msgs.msg import Image
    from test_node import classifier_params
    from test_node import make_node
    from test_node import rgb
    from test_node import vision_msgs
    paths = {p: make_classifier(tmp_path / f'{p}.onnx', seed=i)
             for i, p in enumerate(('fp32', 'fp16'))}
    engines = {p: server.deploy(path, f'swap_{p}') for p, path in paths.items()}
    ns = unique_ns()
    node = make_node(ros, ns, classifier_params(
        engines, **{'engines.int8': server.url('swap_absent')}))
    results = Collector(ros, vision_msgs.Classification, f'{ns}/inference_node/results')
    diags = Collector(ros, DiagnosticArray, '/diagnostics')
    pub = ros.node('pub_swap').create_publisher(Image, f'{ns}/image', reliable(10))
    assert wait_for(lambda: node._subscription is not None and pub.get_subscription_count() > 0,
                    timeout=30)
    frame = rgb()
    pub.publish(image_msg(frame, 'rgb8'))
    assert wait_for(lambda: len(results) == 1)
    assert node.set_parameters([Parameter('precision', value='fp16')])[0].successful
    assert wait_for(lambda: node._serving_precision == 'fp16', timeout=30)
    pub.publish(image_msg(frame, 'rgb8'))
    assert wait_for(lambda: len(results) == 2)
    scores = [[h.score for h in r.results] for r in results.items]
    assert scores[0] != scores[1]  # another model answered the same frame
    assert node.set_parameters([Parameter('precision', value='int8')])[0].successful
    assert wait_for(lambda: node.get_parameter('precision').value == 'fp16', timeout=30)
    assert wait_for(lambda: "no model 'swap_absent'" in _diagnostics(diags, ns).get(
        'message', ''), timeout=10)
    values = _diagnostics(diags, ns)
    assert values['backend'] == 'triton' and values['triton model'] == 'swap_fp16 v1'
    assert values['triton state'] == 'live, model ready'


def test_node_counts_failed_frames_while_the_server_is_down(ros: Any, client_library: None,
                                                            tmp_path: Path) -> None:
    """Server killed mid-stream: frames fail and are counted, and the node recovers."""
    import threading

    from diagnostic_msgs.msg import DiagnosticArray
    from ros_harness import Collector
    from ros_harness import image_msg
    from ros_harness import reliable
    from ros_harness import unique_ns
    from ros_harness import wait_for
    from sensor_msgs.msg import Image
    from test_node import classifier_params
    from test_node import make_node
    from test_node import rgb
    from test_node import vision_msgs
    import triton_server
    try:
        own = triton_server.start_server(tmp_path / 'repo', tmp_path / 'server.log')
    except triton_server.ServerUnavailable as exc:
        pytest.skip(f'no Triton server: {exc}')
    stop = threading.Event()
    try:
        url = own.deploy(make_classifier(tmp_path / 'c.onnx'), 'c')
        ns = unique_ns()
        node = make_node(ros, ns, classifier_params({'fp32': url, 'fp16': ''},
                                                    **{'triton.timeout_ms': 500.0}))
        results = Collector(ros, vision_msgs.Classification, f'{ns}/inference_node/results')
        diags = Collector(ros, DiagnosticArray, '/diagnostics')
        pub = ros.node('pub_down').create_publisher(Image, f'{ns}/image', reliable(10))
        assert wait_for(lambda: node._subscription is not None
                        and pub.get_subscription_count() > 0, timeout=30)
        msg = image_msg(rgb(), 'rgb8')

        def stream() -> None:
            while not stop.is_set():
                pub.publish(msg)
                time.sleep(0.05)  # 20 Hz
        threading.Thread(target=stream, daemon=True).start()
        assert wait_for(lambda: len(results) >= 5, timeout=30)
        own.stop(signal.SIGKILL)
        assert wait_for(lambda: node.counters.snapshot()['failed'] >= 5, timeout=30)
        assert wait_for(lambda: _diagnostics(diags, ns).get('triton state', '').startswith(
            'unavailable'), timeout=10)
        failed_while_down = node.counters.snapshot()['failed']
        own.restart()
        seen = len(results)
        assert wait_for(lambda: len(results) >= seen + 5, timeout=60), 'no recovery'
        stop.set()
        # Every frame is accounted for once the last one in flight is done.
        assert wait_for(lambda: node.counters.unaccounted() == 0, timeout=30), \
            node.counters.snapshot()
        assert node.counters.snapshot()['failed'] >= failed_while_down
        assert wait_for(lambda: int(_diagnostics(diags, ns).get('triton reconnections', 0))
                        >= 1, timeout=10)
    finally:
        stop.set()
        own.stop()


def test_variants_export_a_repository_the_server_loads(server: Any, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    """make_variants --triton-repo: <model>_<precision>/1/model.onnx + config.pbtxt."""
    from accel_ai_ros_tools.variants.cli import main
    model = make_classifier(tmp_path / 'net.onnx', seed=7)
    assert main([str(model), '--output-dir', str(tmp_path / 'variants'), '--precisions',
                 'fp16', '--triton-repo', str(server.repo), '--triton-kind', 'python']) == 0
    assert main([str(model), '--output-dir', str(tmp_path / 'variants'), '--precisions',
                 'fp16', '--triton-repo', str(tmp_path / 'named'), '--triton-name', 'face']) == 0
    assert sorted(p.name for p in (tmp_path / 'named').iterdir()) == ['face_fp16', 'face_fp32']
    assert 'triton://<server>:8001/net_fp16/1' in capsys.readouterr().out
    for precision in ('fp32', 'fp16'):
        folder = server.repo / f'net_{precision}'
        assert (folder / '1' / 'model.onnx').is_file()
        assert f'name: "net_{precision}"' in (folder / 'config.pbtxt').read_text()
        server.load(f'net_{precision}')
    fp16 = tmp_path / 'variants' / 'net_fp16.onnx'
    with TritonRunner(server.url('net_fp16')) as runner:
        np.testing.assert_allclose(runner.infer(FEED)['logits'], local(fp16, FEED)['logits'],
                                   rtol=1e-3, atol=1e-3)


def test_benchmark_prints_both_tables(server: Any, classifier: Dict[str, Any], tmp_path: Path,
                                      capsys: pytest.CaptureFixture) -> None:
    """The benchmark triton runs end to end (tiny counts; the figures are not checked)."""
    import json

    from accel_ai_ros_tools.bench import main
    out = tmp_path / 'figures.json'
    assert main(['triton', '--onnx', str(classifier['onnx']), '--url', classifier['url'],
                 '--rounds', '1', '--per-round', '3', '--clients', '2', '--duration', '1',
                 '--json', str(out)]) == 0
    printed = capsys.readouterr().out
    assert 'Triton, system shared memory' in printed and '2 client(s)' in printed
    figures = json.loads(out.read_text())
    assert set(figures['overhead']) == {'local', 'wire', 'shm'}
    assert [r['done'] + r['lost'] for r in figures['clients']['shmx2']] == [30, 30]
    params = tmp_path / 'classifier.yaml'
    params.write_text('/**:\n  ros__parameters:\n    task: classification\n'
                      '    resize_mode: stretch\n')
    assert main(['triton', '--onnx', str(classifier['onnx']), '--url', classifier['url'],
                 '--rounds', '1', '--per-round', '1', '--clients', '1', '--duration', '1',
                 '--params-file', str(params), '--json', str(out)]) == 0
    nodes = json.loads(out.read_text())['nodes']
    assert sorted(nodes) == ['localx1', 'tritonx1']
    assert all(r['sent'] == 30 and r['done'] > 0 for runs in nodes.values() for r in runs)


def test_several_node_processes_share_one_server(ros: Any, server: Any, tmp_path: Path) -> None:
    """Three inference node processes on one Triton model: each answers its own camera."""
    import os
    import subprocess
    import sys

    from ros_harness import Collector
    from ros_harness import image_msg
    from ros_harness import reliable
    from ros_harness import wait_for
    from sensor_msgs.msg import Image
    from test_node import rgb
    from test_node import vision_msgs
    import tritonclient.grpc as grpcclient
    url = server.deploy(make_classifier(tmp_path / 'shared.onnx', seed=9), 'shared_cls')
    procs, collectors, pubs = [], [], []
    log = open(tmp_path / 'nodes.log', 'w')
    try:
        for index in range(3):
            ns = f'/multi{os.getpid()}_{index}'
            procs.append(subprocess.Popen(
                [sys.executable, '-m', 'accel_ai_ros.startup', '--ros-args', '-r',
                 f'__ns:={ns}', '-p', f'engines.fp32:={url}', '-p', 'resize_mode:=stretch',
                 '-p', 'task:=classification', '-p', 'top_k:=3'],
                stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ)))
            collectors.append(Collector(ros, vision_msgs.Classification,
                                        f'{ns}/inference_node/results'))
            pubs.append(ros.node(f'camera_{index}').create_publisher(
                Image, f'{ns}/image', reliable(10)))
        assert wait_for(lambda: all(p.get_subscription_count() > 0 for p in pubs),
                        timeout=60), (tmp_path / 'nodes.log').read_text()[-2000:]
        time.sleep(1.0)  # the nodes activate after subscribing
        for frame in range(20):
            for index, pub in enumerate(pubs):
                pub.publish(image_msg(rgb(seed=frame), 'rgb8', frame_id=f'cam{index}'))
            time.sleep(0.1)
        # (latest-wins: a node busy on a loaded machine may drop some of the 20)
        assert wait_for(lambda: all(len(c) >= 5 for c in collectors), timeout=30), \
            [len(c) for c in collectors]
        for index, collector in enumerate(collectors):
            assert {r.header.frame_id for r in collector.items} == {f'cam{index}'}
        admin = grpcclient.InferenceServerClient(f'127.0.0.1:{server.grpc_port}')
        stats = admin.get_inference_statistics('shared_cls', as_json=True)
        assert int(stats['model_stats'][0]['inference_count']) >= 15
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
