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

"""The user docs stay true: docs/parameters.md is the table's, README commands can be typed."""

import os
from pathlib import Path
import re
import shlex
import subprocess
from typing import List

import pytest

from accel_ai_ros_tools.parameter_table import markdown

REPO = Path(__file__).resolve().parents[1]
#: Commands the README may show that are not this package's executables.
OTHER_COMMANDS = {'bash', 'source', 'ros2', 'colcon', 'cd', 'pip', 'git', 'rosdep', 'export',
                  'yolo', 'python3', 'sudo', 'apt-get'}


def test_parameters_doc_is_generated_from_the_table() -> None:
    path = REPO / 'docs' / 'parameters.md'
    assert path.read_text(encoding='utf-8') == markdown(), (
        'docs/parameters.md is out of date: run python3 -m accel_ai_ros_tools.parameter_table '
        '--write docs/parameters.md')


def _readme_commands() -> List[List[str]]:
    """Return each command line of the README's bash blocks, split like a shell would."""
    text = (REPO / 'README.md').read_text(encoding='utf-8')
    commands = []
    for block in re.findall(r'```bash\n(.*?)```', text, flags=re.S):
        for line in block.replace('\\\n', ' ').splitlines():
            words = shlex.split(line, comments=True)
            if words:
                commands.append(words)
    return commands


def _executables() -> List[str]:
    """Return the console scripts setup.py declares."""
    text = (REPO / 'setup.py').read_text(encoding='utf-8')
    return re.findall(r"'([A-Za-z0-9_]+) = accel_ai_ros[a-z_.]*:main'", text)


def test_readme_commands_are_shell_tools_or_our_executables() -> None:
    known = set(_executables())
    assert known, 'no console scripts found in setup.py'
    commands = _readme_commands()
    assert commands, 'no ```bash block in the README'
    for words in commands:
        first = words[0]
        assert first in OTHER_COMMANDS or first in known, (
            f'README command {" ".join(words)!r} starts with {first!r}, neither one of our '
            f'executables ({", ".join(sorted(known))}) nor a known tool')
        if words[:2] == ['ros2', 'run']:
            assert words[2] == 'accel_ai_ros' and words[3] in known, words
        if first == 'bash' and words[1].startswith('scripts/'):
            assert (REPO / words[1]).is_file(), words


def test_every_executable_is_on_path_in_the_virtual_environment() -> None:
    venv = Path(os.environ.get('VENV', REPO / '.venv'))
    if not (venv / 'lib' / 'accel_ai_ros').is_dir():
        pytest.skip('the package is not installed in the virtual environment (scripts/setup.sh)')
    names = _executables()
    script = ('source scripts/env.sh && accel_env_load_venv && for n in '
              + ' '.join(names) + '; do command -v "$n" || echo "missing $n"; done')
    out = subprocess.run(['bash', '-c', script], cwd=REPO, capture_output=True, text=True,
                         timeout=60, env=dict(os.environ, VENV=str(venv))).stdout
    assert 'missing' not in out, out
    for name in names:
        assert f'/lib/accel_ai_ros/{name}' in out, (name, out)
