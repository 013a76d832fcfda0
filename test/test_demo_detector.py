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

"""The demo runs any detector: config/yolo.yaml with a YOLOv8-shaped model on an image folder.

The model is built here (no download): the Ultralytics export's interface, input ``images``
[1, 3, 640, 640] and output [1, 84, 8400], with one confident box of class 0 (a person) in the
middle of the letterboxed input and every other score near zero.
"""

from pathlib import Path
import shutil

import cv2
import numpy as np
import onnx
from onnx import helper
from onnx import numpy_helper
from onnx import TensorProto
import pytest

from accel_ai_ros_tools.variants.onnx_fixes import with_min_ir_version

pytest.importorskip('vision_msgs.msg', reason='vision_msgs is not importable; in a virtual '
                    'env run scripts/build_interfaces.sh')

REPO = Path(__file__).resolve().parents[1]


def make_yolov8_like(path: Path) -> Path:
    """Write a model with the YOLOv8 export's inputs and outputs and one fixed detection."""
    raw = np.full((1, 84, 8400), -12.0, dtype=np.float32)   # class logits: sigmoid ~ 0
    raw[0, :4, :] = [[320.0], [320.0], [20.0], [20.0]]
    raw[0, 0:4, 100] = [320.0, 320.0, 128.0, 256.0]         # the box, model-input pixels
    raw[0, 4, 100] = 6.0                                    # class 0: sigmoid 0.9975
    scores = raw.copy()
    scores[0, 4:, :] = 1.0 / (1.0 + np.exp(-raw[0, 4:, :]))
    nodes = [
        helper.make_node('ReduceMean', ['images'], ['mean'], keepdims=0),
        helper.make_node('Mul', ['mean', 'zero'], ['nothing']),
        helper.make_node('Add', ['table', 'nothing'], ['output0']),
    ]
    graph = helper.make_graph(
        nodes, 'yolov8_like',
        [helper.make_tensor_value_info('images', TensorProto.FLOAT, [1, 3, 640, 640])],
        [helper.make_tensor_value_info('output0', TensorProto.FLOAT, [1, 84, 8400])],
        initializer=[numpy_helper.from_array(scores, 'table'),
                     numpy_helper.from_array(np.zeros((), np.float32), 'zero')])
    model = with_min_ir_version(helper.make_model(
        graph, opset_imports=[helper.make_opsetid('', 17)]))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def test_demo_runs_the_yolo_config_on_an_image_folder(tmp_path: Path, capsys) -> None:
    from accel_ai_ros_tools.demo import main
    models = tmp_path / 'models'
    models.mkdir()
    make_yolov8_like(models / 'yolov8n.onnx')
    shutil.copy(REPO / 'config' / 'coco_labels.txt', models / 'coco_labels.txt')
    frames = tmp_path / 'frames'
    frames.mkdir()
    for i in range(3):
        cv2.imwrite(str(frames / f'{i}.png'), np.full((360, 480, 3), 100 + 20 * i, np.uint8))
    annotated = tmp_path / 'annotated'
    code = main(['--params-file', str(REPO / 'config' / 'yolo.yaml'), '--model-dir',
                 str(models), '--source', 'folder', '--path', str(frames), '--duration', '4',
                 '--rate', '10', '--width', '480', '--height', '360',
                 '--save-annotated', str(annotated)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert 'precisions fp32' in out and 'fp16' not in out.split('\n')[0], out
    lines = [line for line in out.splitlines() if 'results/s' in line]
    assert lines and any(' 0 results/s' not in line for line in lines), out
    saved = sorted(annotated.glob('*.jpg'))
    assert saved, f'no annotated frame written:\n{out}'
    # The person box: 128x256 at the centre of the 640x640 input, i.e. x 192..288 and
    # y 84..276 in the 480x360 frame (letterbox scale 4/3, 80 rows of padding); its left edge
    # is drawn in class 0's red on the grey frame.
    image = cv2.imread(str(saved[0])).astype(int)
    assert image.shape == (360, 480, 3)
    edge = image[90:270, 190:195]
    red_rows = np.any(edge[..., 2] - edge[..., 1] > 60, axis=1)
    assert np.count_nonzero(red_rows) > 150
    assert not np.any(image[90:270, 100:180, 2] - image[90:270, 100:180, 1] > 60)
