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

"""A launch condition for the package's launch files; only ``launch`` imports this module.

``ArgumentGiven('precision')`` holds when the launch argument was given a non-empty value, so
that an argument with an empty default reaches the node only when the user sets it;
``ArgumentGiven('container', given=False)`` holds when it was not. launch's
own ``LaunchConfigurationNotEquals`` does this on every distribution but warns that it is
deprecated from Jazzy on, and its replacement ``NotEqualsSubstitution`` is missing on Humble.
"""

from typing import Text

from launch.condition import Condition
from launch.launch_context import LaunchContext


class ArgumentGiven(Condition):
    """True when the launch configuration ``name`` is set and not empty (``given=False``: not)."""

    def __init__(self, name: Text, given: bool = True) -> None:
        """Test the launch configuration ``name`` when the action runs."""
        self.name = name
        self.given = given
        super().__init__(predicate=self._holds)

    def _holds(self, context: LaunchContext) -> bool:
        return bool(context.launch_configurations.get(self.name, '')) == self.given

    def describe(self) -> Text:
        """Return a description of this condition."""
        return f'ArgumentGiven({self.name!r}, given={self.given})'
