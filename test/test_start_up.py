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

"""Bad starts through the real ``inference_node`` executable: one line, no traceback."""

import os
from pathlib import Path
import signal
import subprocess
import sys
import time
from typing import List
from typing import Tuple

from models import make_classifier
import pytest

EXECUTABLE = Path(sys.prefix) / 'lib' / 'accel_ai_ros' / 'inference_node'
pytestmark = pytest.mark.skipif(
    not EXECUTABLE.is_file(), reason=f'{EXECUTABLE} is not installed: run scripts/setup.sh')


@pytest.fixture(scope='module')
def model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Return a real classifier for the node to load."""
    return str(make_classifier(tmp_path_factory.mktemp('start_up') / 'model.onnx'))


def node_args(model: str, *extra: str) -> List[str]:
    """Return the command line of the node with the model and ``extra`` ROS arguments."""
    return [str(EXECUTABLE), '--ros-args', '-r', f'__ns:=/start_up{os.getpid()}',
            '-p', f'engines.fp32:={model}', '-p', 'resize_mode:=stretch', *extra]


def run_to_exit(args: List[str]) -> Tuple[int, List[str]]:
    """Run the node until it exits by itself; return its exit code and non-empty lines."""
    done = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=60, env=dict(os.environ))
    return done.returncode, [line for line in done.stdout.splitlines() if line.strip()]


@pytest.mark.parametrize('arg,names', [
    ('precision:=fp64', ['precision', 'fp32, fp16, int8']),
    ('top_k:=0', ['top_k', '>= 1']),
    ('top_k:=five', ['top_k', 'int']),
    ('score_threshold:=.nan', ['score_threshold', 'finite']),
    ('std:=[0.0]', ['std', 'must not contain 0']),
    ('mean:=[0.1,0.2,0.3,0.4]', ['mean', '1 or 3 values']),
    ('qos_depth:=0', ['qos_depth', '>= 1']),
    ('backend:=tflite', ['backend', 'onnxruntime']),
])
def test_a_bad_parameter_ends_the_process_with_one_line(model, arg, names) -> None:
    code, lines = run_to_exit(node_args(model, '-p', arg))
    assert code == 1, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith('inference_node: invalid parameter'), lines
    for name in names:
        assert name in lines[0], lines


def test_an_unreadable_parameter_file_is_named(model, tmp_path) -> None:
    broken = tmp_path / 'broken.yaml'
    broken.write_text('inference_node:\n  ros__parameters:\n    top_k: [3\n')
    for path in (broken, tmp_path / 'missing.yaml'):
        code, lines = run_to_exit(node_args(model, '--params-file', str(path)))
        assert code == 1, lines
        assert len(lines) == 1, lines
        assert f'cannot read the parameter file {path}' in lines[0], lines


def test_malformed_ros_arguments_give_one_line(model) -> None:
    code, lines = run_to_exit(node_args(model, '-p', 'top_k'))
    assert code == 1 and len(lines) == 1, lines
    assert 'invalid command-line arguments' in lines[0] and '-p top_k' in lines[0], lines


def test_a_misspelt_key_is_reported_once_and_an_integer_float_is_taken(model, tmp_path) -> None:
    params = tmp_path / 'params.yaml'
    params.write_text('/**:\n  ros__parameters:\n    presicion: fp16\n'
                      '    score_threshold: 1\n')
    proc = subprocess.Popen(node_args(model, '--params-file', str(params)),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if 'running fp32' in line:
                break
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=20)
        lines.extend(rest.splitlines())
    finally:
        if proc.poll() is None:
            proc.kill()
    text = ''.join(lines)
    assert proc.returncode == 0, text
    warned = [line for line in lines if 'presicion' in line]
    assert len(warned) == 1 and "did you mean 'precision'" in warned[0], text
    assert 'Traceback' not in text, text


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize('delay', [0.3, 0.8, 1.5])
def test_a_signal_during_start_up_exits_0_quietly(model, sig, delay) -> None:
    proc = subprocess.Popen(node_args(model), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    time.sleep(delay)
    proc.send_signal(sig)
    try:
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert 'Traceback' not in out and 'Error' not in out, out
