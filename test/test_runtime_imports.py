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

"""The runtime (``accel_ai_ros``) never imports the offline tools (``accel_ai_ros_tools``).

The tools (benchmarks, demo, variants, trade-off study) may import the runtime, never the
other way round, so a robot that only runs the node loads none of their code or dependencies.
"""

import ast
import importlib.util
import json
from pathlib import Path
import subprocess
import sys
from typing import List

import pytest

REPO = Path(__file__).resolve().parents[1]
RUNTIME = REPO / 'accel_ai_ros'
TOOLS = 'accel_ai_ros_tools'


def _imported_names(path: Path) -> List[str]:
    """Return every module name an ``import`` or ``from ... import`` in ``path`` names."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_no_runtime_module_names_a_tool_module() -> None:
    # Lazy imports inside functions count too: a tool import anywhere in the runtime fails.
    offenders = [f'{path.relative_to(REPO)}: {name}'
                 for path in sorted(RUNTIME.rglob('*.py'))
                 for name in _imported_names(path)
                 if name == TOOLS or name.startswith(TOOLS + '.')]
    assert not offenders, 'the runtime imports tool modules:\n  ' + '\n  '.join(offenders)


def test_importing_the_node_loads_no_tool_module() -> None:
    if importlib.util.find_spec('rclpy') is None:
        pytest.skip('rclpy is not installed (bash scripts/setup.sh installs it)')
    code = ('import json, sys\n'
            'import accel_ai_ros.node\n'
            'print(json.dumps(sorted(sys.modules)))\n')
    proc = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    modules = json.loads(proc.stdout.strip().splitlines()[-1])
    assert 'accel_ai_ros.node' in modules
    tools = [m for m in modules if m == TOOLS or m.startswith(TOOLS + '.')]
    assert not tools, f'importing the node loaded tool modules: {tools}'


def test_tools_find_shipped_files_in_the_share_folder() -> None:
    # Installed config comes from the package's share folder (the ament index, or
    # sys.prefix/share after pip), never from a path relative to the source tree.
    from accel_ai_ros_tools.environment import find_config
    from accel_ai_ros_tools.environment import share_directory
    share = share_directory()
    if share is None:
        pytest.skip('accel_ai_ros is not installed (bash scripts/setup.sh installs it)')
    assert find_config('demo.yaml') == share / 'config' / 'demo.yaml'
    assert find_config('no_such_file.yaml') is None
    sources = [path for package in (RUNTIME, REPO / TOOLS) for path in package.rglob('*.py')
               if '__file__).resolve().parents' in path.read_text(encoding='utf-8')]
    assert not sources, f'files found relative to the source tree in {sources}'


def test_only_the_node_rooms_import_rclpy() -> None:
    # Everything but the node, its entry point and the container is plain Python, tested
    # without ROS (docs/architecture.md); message packages are fine, rclpy is not.
    allowed = {'node.py', 'startup.py', 'container.py'}
    offenders = [f'{path.relative_to(REPO)}: {name}'
                 for path in sorted(RUNTIME.rglob('*.py'))
                 if str(path.relative_to(RUNTIME)) not in allowed
                 for name in _imported_names(path)
                 if name == 'rclpy' or name.startswith('rclpy.')]
    assert not offenders, 'rclpy imported outside the node rooms:\n  ' + '\n  '.join(offenders)
