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

"""Write ``docs/parameters.md`` from the parameter table, so the docs never drift from the code.

``python3 -m accel_ai_ros_tools.parameter_table`` prints it; ``--write docs/parameters.md``
replaces the file. ``test/test_parameters_doc.py`` fails when the file is out of date.
"""

import argparse
from pathlib import Path
import sys
from typing import Any
from typing import List
from typing import Optional
from typing import Sequence

from accel_ai_ros.fileio import atomic_write
from accel_ai_ros.param_spec import ParamSpec
from accel_ai_ros.params import PARAMETERS
from accel_ai_ros.tasks.registry import TASKS

_INTRO = """# Parameters

Generated from the parameter table by `python3 -m accel_ai_ros_tools.parameter_table --write
docs/parameters.md`; a test fails when this file and the code disagree. Every parameter is
declared with a descriptor (`ros2 param describe /inference_node <name>` shows it) and checked
by one callback registered before the parameters are declared, so a `--params-file` is checked
too. *Runtime: no* means read-only: `ros2 param set` refuses it with a reason; set it in the
parameter file and restart. Runtime changes take effect on the next frame.
`config/defaults.yaml` lists every default (a test keeps it equal to this table).
"""


def _default(spec: ParamSpec) -> str:
    value: Any = spec.default
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float):
        return f'{value:.6g}'
    if isinstance(value, (list, tuple)):
        return '[' + ', '.join(str(v) for v in value) + ']'
    return repr(value) if value == '' else str(value)


def _allowed(spec: ParamSpec) -> str:
    if spec.choices:
        return ', '.join(spec.choices)
    if spec.min_value is not None and spec.max_value is not None:
        return f'{spec.min_value:g} to {spec.max_value:g}'
    if spec.length:
        return ' or '.join(str(n) for n in spec.length) + ' values'
    return ''


def _rows(specs: Sequence[ParamSpec]) -> List[str]:
    rows = ['| name | type | default | runtime | allowed | meaning |',
            '|---|---|---|---|---|---|']
    for spec in specs:
        description = spec.description.replace('|', '\\|')
        rows.append(f'| `{spec.name}` | {spec.type_name} | `{_default(spec)}` | '
                    f'{"no" if spec.read_only else "yes"} | {_allowed(spec)} | '
                    f'{description} |')
    return rows


def markdown() -> str:
    """Return the whole of ``docs/parameters.md``."""
    owned = {spec.name: task.name for task in TASKS.values() for spec in task.parameters}
    lines = [_INTRO, '## The node', '']
    lines += _rows([spec for spec in PARAMETERS if spec.name not in owned])
    for task in TASKS.values():
        lines += ['', f'## Task `{task.name}`', '',
                  f'Read when `task: {task.name}` ({task.description}); declared by '
                  f'`accel_ai_ros/tasks/{task.name}.py`.', '']
        lines += _rows(task.parameters) if task.parameters else ['No parameters of its own.']
    return '\n'.join(lines) + '\n'


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Print the parameter docs, or write them to ``--write PATH``."""
    parser = argparse.ArgumentParser(prog='python3 -m accel_ai_ros_tools.parameter_table',
                                     description=__doc__.splitlines()[0])
    parser.add_argument('--write', metavar='PATH', help='write the file instead of printing')
    args = parser.parse_args(argv)
    text = markdown()
    if args.write:
        atomic_write(Path(args.write), text.encode('utf-8'))
    else:
        sys.stdout.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
