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

"""Child processes: one way to end them (tegrastats, benchmark nodes, burners)."""

import signal
import subprocess
from typing import Any
from typing import Optional


def stop_process(process: 'subprocess.Popen[Any]', timeout_s: float = 20.0,
                 sig: int = signal.SIGTERM) -> Optional[int]:
    """Ask a child process to end with ``sig``; kill it after ``timeout_s``; return its code."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            return process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()
