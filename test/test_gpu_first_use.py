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

"""The first GPU preprocessor of a process, built the way the node builds it, returns.

In the node, a runner creates its :class:`~accel_ai_ros.gpu.preprocess.GpuPreprocessor` on
the worker thread as the very first call into :mod:`accel_ai_ros.gpu.cuda`: nothing has made
a CUDA context current before. Each test here does exactly that in a fresh Python process,
on a thread, and fails when the thread has not finished within a generous bound (a deadlock
never finishes). One test runs NVIDIA's real ``cuda.bindings`` on a GPU and skips without
one; the other replaces the driver and NVRTC modules by a stub that answers like a one-GPU
machine, so the locking is checked on every CPU machine too.
"""

import os
from pathlib import Path
import subprocess
import sys
import textwrap

import pytest

REPO = Path(__file__).resolve().parents[1]

#: Installs a stand-in for ``cuda.bindings.driver`` and ``cuda.bindings.nvrtc``: every call
#: succeeds at once and returns plausible values for one compute-capability-9.0 device.
STUB = textwrap.dedent("""
    import sys
    import types

    class _Names:
        def __getattr__(self, name):
            return name

    def ok(*values):
        return lambda *args, **kwargs: (0,) + values

    driver = types.ModuleType('cuda.bindings.driver')
    driver.CUresult = int
    driver.CUdevice_attribute = _Names()
    driver.CUevent_flags = _Names()
    driver.CUstream_flags = _Names()
    driver.CUstream = int
    driver.cuInit = ok()
    driver.cuDeviceGetCount = ok(1)
    driver.cuDeviceGet = lambda ordinal: (0, ordinal)
    driver.cuDevicePrimaryCtxRetain = ok('context')
    driver.cuCtxSetCurrent = ok()
    driver.cuDeviceGetAttribute = lambda attr, dev: (0, 9 if attr.endswith('MAJOR') else 0)
    driver.cuModuleLoadData = ok('module')
    driver.cuModuleGetFunction = ok('function')
    driver.cuEventCreate = ok('event')
    driver.cuEventDestroy = ok()
    nvrtc = types.ModuleType('cuda.bindings.nvrtc')
    nvrtc.nvrtcCreateProgram = ok('program')
    nvrtc.nvrtcCompileProgram = ok()
    nvrtc.nvrtcGetCUBINSize = ok(4)
    nvrtc.nvrtcGetCUBIN = ok()
    nvrtc.nvrtcDestroyProgram = ok()
    bindings = types.ModuleType('cuda.bindings')
    bindings.driver, bindings.nvrtc = driver, nvrtc
    package = types.ModuleType('cuda')
    package.bindings = bindings
    sys.modules.update({'cuda': package, 'cuda.bindings': bindings,
                        'cuda.bindings.driver': driver, 'cuda.bindings.nvrtc': nvrtc})
""")

#: Builds the preprocessor on a thread, as the node's worker does, and reports the outcome.
FIRST_USE = textwrap.dedent("""
    import threading

    from accel_ai_ros.errors import AccelAiError
    from accel_ai_ros.gpu.preprocess import GpuPreprocessor
    from accel_ai_ros.preprocess import PreprocessSpec

    outcome = []

    def build():
        try:
            GpuPreprocessor(PreprocessSpec(width=64, height=48), device=0).close()
            outcome.append('built')
        except AccelAiError as error:
            outcome.append(f'unavailable: {error}')
        except BaseException as error:  # noqa: B902 - reported to the test
            outcome.append(f'failed: {type(error).__name__}: {error}')

    thread = threading.Thread(target=build, daemon=True)
    thread.start()
    thread.join(20.0)
    print(outcome[0] if outcome else 'hung', flush=True)
""")


def first_use(prelude: str) -> str:
    """Run ``prelude`` then FIRST_USE in a fresh interpreter; return its last output line."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]))
    done = subprocess.run([sys.executable, '-c', prelude + FIRST_USE], cwd=str(REPO), env=env,
                          capture_output=True, text=True, timeout=120)
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines, done.stderr[-2000:]
    return lines[-1]


def test_first_gpu_preprocessor_on_a_thread_returns_with_a_stub_driver() -> None:
    assert first_use(STUB) == 'built'


def test_first_gpu_preprocessor_on_a_thread_returns_on_the_gpu() -> None:
    outcome = first_use('')
    if outcome.startswith('unavailable: '):
        pytest.skip(outcome)
    assert outcome == 'built'


def test_gpu_input_falls_back_to_the_cpu_once_without_cuda_python() -> None:
    """A GPU runner whose machine lacks cuda-python preprocesses on the CPU, saying why once."""
    script = textwrap.dedent("""
        import logging
        import sys

        sys.modules['cuda'] = None  # cuda-python is not installed
        logging.basicConfig(level=logging.INFO, format='%(message)s', stream=sys.stdout)

        from accel_ai_ros.gpu.preprocess import GpuInput
        from accel_ai_ros.preprocess import PreprocessSpec

        gpu_input = GpuInput(0, 'model.engine')
        spec = PreprocessSpec(width=64, height=48)
        print(gpu_input.get(spec), gpu_input.get(spec), gpu_input.current)
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, '-c', script], cwd=str(REPO), env=env,
                          capture_output=True, text=True, timeout=120)
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines[-1] == 'None None None', done.stderr[-2000:]
    said = [line for line in lines if 'preprocessing on the CPU' in line]
    assert len(said) == 1 and 'model.engine' in said[0] and 'cuda-python' in said[0], lines
