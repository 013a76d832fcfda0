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

"""The real ROS 2 command line (``ros2 launch``, ``ros2 component``, ...) for tests.

No registry ships launch, launch_ros or ros2cli, so ``../shared/ros2-cli/ros2-cli-venv.sh``
builds them with PyPI's ROS 2 Kilted wheels into ``build/ros2cli`` (once; seconds when
already built). accel_ai_ros is then installed there as on a robot: its Python
dependencies, the bundled vision_msgs (``scripts/build_interfaces.sh``) and the package with
its executables in ``lib/accel_ai_ros/``, from a copy of the working tree made each session.
Tests get a :class:`Ros2Cli` from the ``ros2_cli`` fixture, which skips with the reason
where ``../shared`` is absent.
"""

import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO.parent / 'shared' / 'ros2-cli' / 'ros2-cli-venv.sh'
DEST = REPO / 'build' / 'ros2cli'
# What accel_ai_ros imports at run time beyond the ROS wheels the script installs.
RUNTIME_IMPORTS = {'cv2': 'opencv-python-headless>=4.8', 'onnx': 'onnx>=1.16',
                   'onnxruntime': 'onnxruntime>=1.18', 'yaml': 'pyyaml>=6.0'}
# Copied for the install: the package's own files, never environments or outputs.
_NOT_COPIED = ('.git', '.venv', 'build', 'install', 'log', 'models', 'reports',
               '__pycache__', '*.egg-info', '.pytest_cache', '.mypy_cache', '.ruff_cache')


class Ros2CliUnavailable(RuntimeError):
    """../shared is absent here, so the ROS 2 command line cannot be built (a skip)."""


class Ros2Cli:
    """The built venv: its environment and helpers to run ``ros2`` commands in it."""

    def __init__(self, dest: Path) -> None:
        """Read the environment that ``dest/env.sh`` sets."""
        self.dest = dest
        self.venv = dest / 'venv'
        out = subprocess.run(['bash', '-c', f'. "{dest}/env.sh" && env -0'], check=True,
                             capture_output=True, env=_clean_env(os.environ)).stdout
        self.base_env = dict(item.split('=', 1) for item in out.decode().split('\0')
                             if '=' in item)

    def env(self, **extra: str) -> Dict[str, str]:
        """Return the environment for a ros2 process: this test run's domain, on loopback.

        FASTDDS_DEFAULT_PROFILES_FILE stays as the test run set it (the repository's
        loopback profile); launch files replace it for the processes they start, which
        :meth:`Ros2Process.environ` shows.
        """
        env = dict(self.base_env)
        env['ROS_DOMAIN_ID'] = os.environ.get('ROS_DOMAIN_ID', env.get('ROS_DOMAIN_ID', '77'))
        env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
        env['PYTHONUNBUFFERED'] = '1'
        env['RCUTILS_COLORIZED_OUTPUT'] = '0'
        env.update(extra)
        return env

    def run(self, args: Sequence[str], timeout: float = 60.0,
            **extra: str) -> subprocess.CompletedProcess:
        """Run ``ros2 <args>`` to completion and return it (stdout and stderr merged)."""
        return subprocess.run([str(self.venv / 'bin' / 'ros2'), *args], env=self.env(**extra),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def start(self, args: Sequence[str], log: Path, **extra: str) -> 'Ros2Process':
        """Start ``ros2 <args>`` in its own process group, output to ``log``."""
        return Ros2Process([str(self.venv / 'bin' / 'ros2'), *args], self.env(**extra), log)


class Ros2Process:
    """A ``ros2`` process in its own group, stopped with SIGINT as Ctrl-C stops it."""

    def __init__(self, cmd: List[str], env: Dict[str, str], log: Path) -> None:
        """Start ``cmd``; its output goes to ``log``."""
        self.log = log
        self._file = open(log, 'w', encoding='utf-8')
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def output(self) -> str:
        """Return what the process printed so far."""
        self._file.flush()
        return self.log.read_text(encoding='utf-8', errors='replace')

    def interrupt(self, timeout: float = 30.0) -> Optional[int]:
        """Send SIGINT to the process group (Ctrl-C); return the exit code, None on timeout."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """Kill whatever is left of the process group."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        self._file.close()

    def environ(self, name: str) -> Dict[str, Optional[str]]:
        """Return ``name`` in the environment of each process of the group, by command line."""
        found: Dict[str, Optional[str]] = {}
        for entry in Path('/proc').iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.getpgid(int(entry.name)) != self.proc.pid:
                    continue
                cmdline = (entry / 'cmdline').read_bytes().replace(b'\0', b' ').decode()
                environ = (entry / 'environ').read_bytes().split(b'\0')
            except (OSError, ProcessLookupError):
                continue
            prefix = name.encode() + b'='
            values = [item[len(prefix):].decode() for item in environ if item.startswith(prefix)]
            found[cmdline.strip()] = values[0] if values else None
        return found

    def group_alive(self) -> bool:
        """Return whether any process of the group still runs."""
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        return True


def _clean_env(env: Dict[str, str]) -> Dict[str, str]:
    """Drop this test venv's settings so that the ros2 venv's own python runs cleanly."""
    clean = {k: v for k, v in env.items()
             if k not in ('VIRTUAL_ENV', 'PYTHONPATH', 'PYTHONHOME', 'LD_LIBRARY_PATH',
                          'AMENT_PREFIX_PATH') and not k.startswith('_ROS_WHEELS')}
    if sys.prefix != sys.base_prefix:  # the script must find the system python3.11
        venv_bin = os.path.join(sys.prefix, 'bin')
        clean['PATH'] = os.pathsep.join(
            d for d in clean.get('PATH', '').split(os.pathsep) if d != venv_bin)
    return clean


def _step(cmd: Sequence[str], what: str, timeout: float) -> None:
    """Run one build step; raise RuntimeError with its output's tail (a test error)."""
    done = subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env=_clean_env(os.environ), cwd=REPO)
    if done.returncode != 0:
        tail = '\n'.join(done.stdout.splitlines()[-25:])
        raise RuntimeError(f'{what} failed (exit {done.returncode}):\n{tail}')


def build(dest: Path = DEST) -> Ros2Cli:
    """Build (or refresh) the ROS 2 command line in ``dest`` and install accel_ai_ros there."""
    if not SCRIPT.is_file():
        raise Ros2CliUnavailable(f'{SCRIPT} is absent: the ROS 2 command line is built from '
                                 '../shared, which only developer and CI machines have')
    _step(['bash', str(SCRIPT), str(dest)], 'ros2-cli-venv.sh', timeout=1800)
    python = str(dest / 'venv' / 'bin' / 'python')
    missing = [spec for module, spec in RUNTIME_IMPORTS.items()
               if subprocess.run([python, '-c', f'import {module}'], capture_output=True,
                                 env=_clean_env(os.environ)).returncode != 0]
    if missing:
        _step([python, '-m', 'pip', 'install', '-q', '--disable-pip-version-check', *missing],
              f"pip install {' '.join(missing)}", timeout=1200)
    _step(['bash', str(REPO / 'scripts' / 'build_interfaces.sh'), str(dest / 'venv')],
          'scripts/build_interfaces.sh (vision_msgs)', timeout=1800)
    with tempfile.TemporaryDirectory(prefix='accel_ai_ros_src_') as tmp:
        src = Path(tmp) / 'accel_ai_ros'
        shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(*_NOT_COPIED), symlinks=True)
        _step([str(dest / 'venv' / 'bin' / 'ros2-venv-pip-install'), '-q', '--no-deps',
               '--no-build-isolation', '--force-reinstall', '--disable-pip-version-check',
               str(src)], 'installing accel_ai_ros into the ros2 venv', timeout=600)
    return Ros2Cli(dest)


def wait_for_text(proc: Ros2Process, text: str, timeout: float) -> bool:
    """Wait until ``proc`` printed ``text`` or ended; return whether it printed it."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if text in proc.output():
            return True
        if proc.proc.poll() is not None:
            return text in proc.output()
        time.sleep(0.2)
    return text in proc.output()
