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

"""Accuracy-guided mixed precision on the real face detector, on frames calibration never saw."""

from pathlib import Path

import onnx
import pytest

from accel_ai_ros.preprocess import CpuPreprocessor
from accel_ai_ros.preprocess import PreprocessSpec
from accel_ai_ros.tasks.detection import DetectionDecoder
from accel_ai_ros_tools.face_frames import calibration_frames
from accel_ai_ros_tools.face_frames import held_out_frames
from accel_ai_ros_tools.variants.calibration import CalibrationReader
from accel_ai_ros_tools.variants.mixed import mixed_precision_int8

FACE_SPEC = PreprocessSpec(240, 320, resize_mode='stretch', scale=1.0, mean=(127.0,),
                           std=(128.0,))


@pytest.mark.parametrize('target', ['tensorrt', 'cpu'])
def test_face_detector_meets_the_goal(face_model: Path, target: str) -> None:
    """
    INT8 keeps >= 95 % of FP32's boxes at IoU 0.5 and >= 85 % at IoU 0.9 (issue 16 goal).

    The search keeps the costliest layers in float until box F1 at IoU 0.5 loses at most 2 %.
    The TensorRT target is scored with Q/DQ computed exactly, so its figures are the same on
    every CPU; the cpu target with this CPU's kernels and its own reduce_range.
    """
    decoder = DetectionDecoder(320, 240, layout='ssd', score_threshold=0.7, iou_threshold=0.3,
                               max_detections=50)
    pre = CpuPreprocessor(FACE_SPEC)
    frames = [pre(image) for image in held_out_frames()]
    reader = CalibrationReader(iter(calibration_frames()), FACE_SPEC, 'input', count=100)
    lines = []
    result = mixed_precision_int8(onnx.load(str(face_model)), FACE_SPEC, reader, frames,
                                  'detection', decoder, target=target, progress=lines.append)
    print('\n'.join(lines))
    full, final = result.full_int8.details, result.final.details
    print(f'{target}: full INT8 {full}; kept in float {result.kept_float}: {final}')
    assert reader.frames == 13 and final['fp32_boxes'] >= 90
    assert result.met and final['kept_iou50'] >= 0.95 and final['kept_iou90'] >= 0.85
    assert len(result.kept_float) <= 3
    mixed = result.options['mixed_precision']
    assert mixed['kept_float'] == result.kept_float and mixed['tolerance'] == 0.02
    floats = {t.name for t in result.model.graph.initializer
              if t.data_type == onnx.TensorProto.FLOAT}
    for node in result.model.graph.node:  # a kept layer's weight is a float initializer
        if node.name in result.kept_float:
            assert node.op_type == 'Conv' and node.input[1] in floats
