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

"""Tests of accel_ai_ros.messages against hand-computed values, and wire round trips."""

from typing import Any

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticStatus
import numpy as np
import pytest
from rclpy.serialization import deserialize_message
from rclpy.serialization import serialize_message
from std_msgs.msg import Float32MultiArray
from std_msgs.msg import Header

vision_msgs = pytest.importorskip(
    'vision_msgs.msg',
    reason='vision_msgs is not importable; in a virtual env run scripts/build_interfaces.sh')
Classification = vision_msgs.Classification
Detection2DArray = vision_msgs.Detection2DArray

from accel_ai_ros import messages  # noqa: E402
from accel_ai_ros.errors import ParameterError  # noqa: E402
from accel_ai_ros.errors import PostprocessError  # noqa: E402
from accel_ai_ros.tasks import classification  # noqa: E402
from accel_ai_ros.tasks import detection  # noqa: E402
from accel_ai_ros.tasks.registry import task_named  # noqa: E402
from accel_ai_ros.tasks.results import ClassScore  # noqa: E402
from accel_ai_ros.tasks.results import Detection  # noqa: E402
from accel_ai_ros.tasks.results import InferenceResult  # noqa: E402


def _header() -> Header:
    return Header(stamp=Time(sec=12, nanosec=345), frame_id='camera_optical')


def _round_trip(msg: Any) -> Any:
    """Serialize and deserialize ``msg``, as the middleware would."""
    return deserialize_message(serialize_message(msg), type(msg))


def _detection_result() -> InferenceResult:
    return InferenceResult(task='detection', detections=[
        Detection(x1=10.0, y1=20.0, x2=50.0, y2=100.0, score=0.9, class_id=3, label='face'),
        Detection(x1=0.5, y1=1.5, x2=2.5, y2=2.0, score=np.float32(0.25), class_id=7),
    ])


def test_detections_centre_size_labels_and_scores() -> None:
    """Boxes become centre and size; class_id is the label, else the class index."""
    msg = _round_trip(detection.to_msg(_detection_result(), _header()))
    assert isinstance(msg, Detection2DArray)
    assert len(msg.detections) == 2
    first, second = msg.detections
    assert (first.bbox.center.position.x, first.bbox.center.position.y) == (30.0, 60.0)
    assert (first.bbox.size_x, first.bbox.size_y) == (40.0, 80.0)
    assert first.bbox.center.theta == 0.0
    assert [r.hypothesis.class_id for r in first.results] == ['face']
    assert first.results[0].hypothesis.score == pytest.approx(0.9)
    assert (second.bbox.center.position.x, second.bbox.center.position.y) == (1.5, 1.75)
    assert (second.bbox.size_x, second.bbox.size_y) == (2.0, 0.5)
    assert second.results[0].hypothesis.class_id == '7'
    assert second.results[0].hypothesis.score == pytest.approx(0.25)
    assert first.id == '' and second.id == ''


def test_detections_copy_the_header_into_array_and_each_detection() -> None:
    """The array and every detection carry the input header, as copies."""
    header = _header()
    msg = detection.to_msg(_detection_result(), header)
    for h in [msg.header] + [d.header for d in msg.detections]:
        assert (h.stamp.sec, h.stamp.nanosec, h.frame_id) == (12, 345, 'camera_optical')
    header.frame_id = 'changed'
    header.stamp.sec = 99
    assert msg.header.frame_id == 'camera_optical'
    assert msg.detections[0].header.stamp.sec == 12


def test_empty_detection_result_gives_empty_array_with_header() -> None:
    """Nothing found is a valid, empty array that still carries the header."""
    msg = _round_trip(detection.to_msg(InferenceResult(task='detection'), _header()))
    assert list(msg.detections) == []
    assert (msg.header.stamp.sec, msg.header.frame_id) == (12, 'camera_optical')


def test_classification_keeps_order_labels_scores_and_header() -> None:
    """Class scores keep their order; an unlabelled class is named by its index."""
    result = InferenceResult(task='classification', classes=[
        ClassScore(class_id=281, score=0.75, label='tabby'),
        ClassScore(class_id=5, score=np.float32(0.125)),
    ])
    msg = _round_trip(classification.to_msg(result, _header()))
    assert isinstance(msg, Classification)
    assert [(r.class_id, r.score) for r in msg.results] == [('tabby', 0.75), ('5', 0.125)]
    assert (msg.header.stamp.nanosec, msg.header.frame_id) == (345, 'camera_optical')
    empty = classification.to_msg(InferenceResult(task='classification'), _header())
    assert list(empty.results) == [] and empty.header.frame_id == 'camera_optical'


def test_each_task_names_its_message_type() -> None:
    """Each task publishes its message type on ~/results; 'raw' has none (~/output only)."""
    assert task_named('detection').message_type() is Detection2DArray
    assert task_named('classification').message_type() is Classification
    assert task_named('raw').message_type() is None and task_named('raw').to_msg is None
    with pytest.raises(ParameterError, match='classification, detection, raw'):
        task_named('segmentation')
    for name in ('detection', 'classification'):
        task = task_named(name)
        assert task.to_msg is not None
        msg = task.to_msg(InferenceResult(task=name), _header())
        assert type(msg) is task.message_type()


def test_single_tensor_layout() -> None:
    """One output: one labelled dimension per axis with C-order strides."""
    logits = np.arange(6, dtype=np.float32).reshape(2, 3)
    msg = _round_trip(messages.tensors_to_msg({'logits': logits}))
    assert isinstance(msg, Float32MultiArray)
    assert [(d.label, d.size, d.stride) for d in msg.layout.dim] == [
        ('logits/0', 2, 6), ('logits/1', 3, 3)]
    assert msg.layout.data_offset == 0
    assert list(msg.data) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_several_tensors_are_concatenated_and_read_back() -> None:
    """Outputs follow each other in order; names with '/' and other dtypes survive."""
    scores = np.array([[[0.5, 0.25], [1.0, 2.0], [3.0, 4.0]]], dtype=np.float64)
    boxes = np.array([[7, 8, 9, 10]], dtype=np.int64)[:, ::-1]  # not contiguous
    scalar = np.float32(1.5)
    outputs = {'scores': scores, '/model/boxes': boxes, 'count': scalar}
    msg = _round_trip(messages.tensors_to_msg(outputs))
    assert [(d.label, d.size, d.stride) for d in msg.layout.dim] == [
        ('scores/0', 1, 6), ('scores/1', 3, 6), ('scores/2', 2, 2),
        ('/model/boxes/0', 1, 4), ('/model/boxes/1', 4, 4),
        ('count/0', 1, 1)]
    assert list(msg.data) == [0.5, 0.25, 1.0, 2.0, 3.0, 4.0, 10.0, 9.0, 8.0, 7.0, 1.5]
    back = messages.msg_to_tensors(msg)
    assert list(back) == ['scores', '/model/boxes', 'count']
    np.testing.assert_array_equal(back['scores'], scores.astype(np.float32))
    np.testing.assert_array_equal(back['/model/boxes'], [[10.0, 9.0, 8.0, 7.0]])
    np.testing.assert_array_equal(back['count'], [1.5])


def test_empty_and_invalid_tensors() -> None:
    """No outputs give an empty message; non-numeric outputs and bad layouts are refused."""
    empty = messages.tensors_to_msg({})
    assert list(empty.layout.dim) == [] and list(empty.data) == []
    assert messages.msg_to_tensors(empty) == {}
    with pytest.raises(PostprocessError, match='not numeric'):
        messages.tensors_to_msg({'names': np.array(['a', 'b'])})
    short = messages.tensors_to_msg({'x': np.zeros((2, 2), np.float32)})
    short.data = short.data[:3]
    with pytest.raises(PostprocessError, match='cut short'):
        messages.msg_to_tensors(short)
    foreign = messages.tensors_to_msg({'x': np.zeros(3, np.float32)})
    foreign.layout.dim[0].label = 'width'
    with pytest.raises(PostprocessError, match='axis'):
        messages.msg_to_tensors(foreign)


def test_latency_to_msg() -> None:
    """Latency is sent as a Float32 in milliseconds."""
    assert _round_trip(messages.latency_to_msg(12.5)).data == 12.5


def test_diagnostics_to_msg() -> None:
    """One status with name, hardware id, level, message and string values, stamped."""
    msg = _round_trip(messages.diagnostics_to_msg(
        Time(sec=3, nanosec=4), 'infer: inference', 'onnxruntime', DiagnosticStatus.WARN,
        'no engine loaded', {'frames': '10', 'p50_ms': '4.2'}))
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (3, 4)
    (status,) = msg.status
    assert status.level == DiagnosticStatus.WARN
    assert (status.name, status.hardware_id, status.message) == (
        'infer: inference', 'onnxruntime', 'no engine loaded')
    assert [(kv.key, kv.value) for kv in status.values] == [('frames', '10'), ('p50_ms', '4.2')]
    as_int = messages.diagnostics_to_msg(Time(), 'n', 'h', 2, 'failed', {})
    assert as_int.status[0].level == DiagnosticStatus.ERROR
    for bad in (4, -1, b'\x07', b''):
        with pytest.raises(ParameterError, match='STALE'):
            messages.diagnostics_to_msg(Time(), 'n', 'h', bad, 'm', {})
