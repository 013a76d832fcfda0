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

"""stop_process: a child that ends on SIGTERM gives its code; one that ignores it is killed."""

import signal
import subprocess
import sys

from accel_ai_ros.subprocesses import stop_process


def _child(setup: str, then: str = 'import time; time.sleep(60)') -> 'subprocess.Popen[bytes]':
    """Start a Python child that runs ``setup``, says it is ready, then runs ``then``."""
    ready = 'import sys; sys.stdout.write("ready\\n"); sys.stdout.flush()'
    proc = subprocess.Popen([sys.executable, '-c', f'{setup}\n{ready}\n{then}'],
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b'ready\n'
    return proc


def test_a_child_that_ends_on_sigterm_gives_its_exit_code() -> None:
    proc = _child('pass')
    assert stop_process(proc, timeout_s=10.0) == -signal.SIGTERM


def test_a_child_that_ignores_sigterm_is_killed_after_the_timeout() -> None:
    proc = _child('import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)')
    assert stop_process(proc, timeout_s=0.5) == -signal.SIGKILL


def test_a_child_that_already_ended_is_only_reaped() -> None:
    proc = _child('pass', then='pass')
    proc.wait()
    assert stop_process(proc) == 0
