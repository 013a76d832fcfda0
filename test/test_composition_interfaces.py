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

"""The installed composition_interfaces services have the wire identity of the real package.

Checked in the type description files installed beside the services
(``share/composition_interfaces/srv/<Type>.json``, what the type description service and
``ros2 interface`` read), against recorded upstream hashes and against the package that the
ros2 CLI environment generates from the upstream sources.
"""

from pathlib import Path
from typing import Any
from typing import Dict
from typing import List

from interface_packages import share_dir
from interface_packages import type_hash
import pytest

srv = pytest.importorskip(
    'composition_interfaces.srv',
    reason='composition_interfaces is not importable; in a virtual env run '
           'scripts/build_interfaces.sh')

REPO = Path(__file__).resolve().parents[1]

# Hashes of ros2/rcl_interfaces composition_interfaces 2.3.0 (Kilted; the fields are the same
# from Humble on), read from share/composition_interfaces/srv/<Type>.json of the package that
# ../shared/ros2-cli/ros2-cli-venv.sh generates from the upstream sources (commit f6b3741).
UPSTREAM_HASHES: Dict[str, str] = {
    'ListNodes': 'RIHS01_13f30d73a74c844ee4bacf78f3680f08777cad137f10fbd6a648544cc7b59d2a',
    'LoadNode': 'RIHS01_2e521ef6066fba6d7fc3a3b175d486709f01b4d738d9a59188858546fc8e5acd',
    'UnloadNode': 'RIHS01_dce562f83adc735ddcfe9dfb927b89293d4dd0fe2b8fc91e772fb83e970a43b0',
}


def _defined_types() -> List[str]:
    """Return the service names defined in interfaces/composition_interfaces/srv."""
    folder = REPO / 'interfaces' / 'composition_interfaces' / 'srv'
    return sorted(p.stem for p in folder.glob('*.srv'))


def test_every_defined_service_has_a_recorded_upstream_hash() -> None:
    """Each .srv in interfaces/composition_interfaces is one we know the upstream hash of."""
    assert _defined_types() == sorted(UPSTREAM_HASHES)


@pytest.mark.parametrize('name', sorted(UPSTREAM_HASHES))
def test_installed_type_description_hash_matches_upstream(name: str) -> None:
    """The installed description of ``name`` hashes like upstream composition_interfaces."""
    assert type_hash(share_dir('composition_interfaces') / 'srv' / f'{name}.json',
                     f'composition_interfaces/srv/{name}') == UPSTREAM_HASHES[name]


@pytest.mark.parametrize('name', sorted(UPSTREAM_HASHES))
def test_hash_matches_the_package_generated_from_upstream_sources(
        ros2_cli: Any, name: str) -> None:
    """The ros2 CLI's composition_interfaces, generated from upstream, has the same hash."""
    path = ros2_cli.venv / 'share' / 'composition_interfaces' / 'srv' / f'{name}.json'
    if not path.is_file():
        pytest.skip(f'{path} is absent: ros2-cli-venv.sh used a placeholder')
    assert type_hash(path, f'composition_interfaces/srv/{name}') == UPSTREAM_HASHES[name]
