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

"""Parameter specs and rules (no rclpy), and the config files that mirror them."""

from pathlib import Path

import pytest

from accel_ai_ros.param_spec import check_value
from accel_ai_ros.params import check_precision
from accel_ai_ros.params import defaults
from accel_ai_ros.params import PARAMETERS
from accel_ai_ros.params import read_params_file
from accel_ai_ros.params import SPECS
from accel_ai_ros.params import validate

CONFIG = Path(__file__).resolve().parents[1] / 'config'


def load(name: str) -> dict:
    """Return the values config/<name> sets, as the node reads them."""
    return read_params_file(CONFIG / name)


def test_defaults_yaml_mirrors_the_code():
    assert load('defaults.yaml') == defaults()


@pytest.mark.parametrize('name', ['demo.yaml', 'face_detector.yaml', 'yolo.yaml',
                                  'face_detector_triton.yaml'])
def test_example_configs_use_only_declared_parameters_with_valid_values(name):
    for key, value in load(name).items():
        assert key in SPECS, f'{name}: {key} is not a parameter'
        assert check_value(SPECS[key], value) is None, (name, key, value)


def test_every_parameter_has_a_description_and_a_valid_default():
    for spec in PARAMETERS:
        assert spec.description.endswith('.') or spec.description.endswith(')'), spec.name
        assert check_value(spec, spec.default) is None, spec.name


@pytest.mark.parametrize('name,value,words', [
    ('precision', 'fp64', 'one of fp32, fp16, int8'),
    ('score_threshold', 1.5, '<= 1.0'),
    ('top_k', 0, '>= 1'),
    ('top_k', 2.5, 'type int'),
    ('autostart', 'yes', 'type bool'),
    ('mean', [0.0, 0.0], '1 or 3 values'),
    ('std', [1.0, 0.0, 1.0], 'must not contain 0'),
    ('scale', float('nan'), 'finite'),
])
def test_invalid_values_are_refused_with_the_allowed_values(name, value, words):
    problem = check_value(SPECS[name], value)
    assert problem is not None and words in problem


def test_read_only_parameters_cannot_change_once_declared():
    current = defaults()
    reason = validate({'task': 'detection'}, current, declared=list(current))
    assert reason and 'read-only' in reason
    assert validate({'top_k': 3}, current, declared=list(current)) is None


def test_precision_change_checks_the_engine_file(tmp_path):
    (tmp_path / 'a.onnx').write_bytes(b'x')
    (tmp_path / 'empty.onnx').write_bytes(b'')
    current = dict(defaults(), model_dir=str(tmp_path), **{
        'engines.fp32': 'a.onnx', 'engines.fp16': 'empty.onnx', 'engines.int8': 'gone.onnx'})
    assert validate({'precision': 'fp32'}, current) is None
    assert 'empty' in validate({'precision': 'fp16'}, current)
    assert 'not found' in validate({'precision': 'int8'}, current)
    current['engines.int8'] = ''
    assert 'engines.int8' in check_precision('int8', current)
    assert validate({'precision': 'int8'}, current, check_files=False) is None


def test_error_messages_point_the_right_way(tmp_path):
    folder = tmp_path / 'model.onnx'
    folder.mkdir()
    values = dict(defaults(), **{'engines.fp32': str(folder)})
    assert 'names a folder' in check_precision('fp32', values)
    values = dict(defaults(), **{'engines.fp32': 'model.onnx',
                                 'model_dir': str(tmp_path / 'missing')})
    problem = check_precision('fp32', values)
    assert problem.startswith('model_dir ') and 'is not a folder' in problem


def test_a_dynamic_input_names_the_parameters_that_size_it():
    from accel_ai_ros.errors import PreprocessError
    from accel_ai_ros.preprocess import spec_from_tensor
    with pytest.raises(PreprocessError, match='input_width and input_height'):
        spec_from_tensor(['batch', 3, 'height', 'width'], 'float32')
