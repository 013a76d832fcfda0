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

"""Process, system and GPU measurements, sampled once a period on their own thread.

Sources, each optional and imported lazily (a missing one is reported as absent with its
reason, never as zeros):

``psutil``      process CPU (percent of one core) and resident memory, system CPU and memory.
``nvml``        a discrete NVIDIA GPU through nvidia-ml-py: utilisation, memory, temperature,
                power, SM clock and clock-throttle reasons.
``jtop``        a Jetson with jetson-stats installed (its service does the reading).
``tegrastats``  a Jetson without jtop: one long-running ``tegrastats`` process read as a
                stream (no process per sample).

No subprocess is started per sample and nothing here runs on the inference thread. The
sampling thread measures its own CPU time (``monitor cpu %``).
"""

from dataclasses import dataclass
from dataclasses import field
import importlib
from pathlib import Path
import re
import shutil
import subprocess
import threading
import time
from types import ModuleType
from typing import Any
from typing import Callable
from typing import Dict
from typing import IO
from typing import List
from typing import Optional
from typing import Tuple

from accel_ai_ros.subprocesses import stop_process

#: NVML clock-event (throttle) reasons that slow the GPU down, by bit (nvml.h).
NVML_SLOWDOWN_REASONS: Dict[int, str] = {
    0x4: 'sw power cap', 0x8: 'hw slowdown', 0x20: 'sw thermal slowdown',
    0x40: 'hw thermal slowdown', 0x80: 'hw power brake slowdown',
}
JETSON_RELEASE_FILE = Path('/etc/nv_tegra_release')


def optional_import(name: str) -> Tuple[Optional[ModuleType], str]:
    """Import ``name``; return ``(module, '')`` or ``(None, 'ImportError: ...')``."""
    try:
        return importlib.import_module(name), ''
    except Exception as exc:  # noqa: B902 - any import failure makes the source absent
        return None, f'{type(exc).__name__}: {exc}'


@dataclass(frozen=True)
class SystemSample:
    """One reading of every source present.

    ``values`` maps an operator-facing key that names its unit ('process cpu %',
    'gpu temperature C') to a number; a source that is absent contributes no key, and
    ``absent`` says why (source name to reason). ``throttled`` is None when no source can
    tell, else whether the GPU clocks are held down by power or temperature
    (``throttle_reasons`` names the causes).
    """

    at: float
    values: Dict[str, float] = field(default_factory=dict)
    absent: Dict[str, str] = field(default_factory=dict)
    sources: Tuple[str, ...] = ()
    throttled: Optional[bool] = None
    throttle_reasons: str = ''


class Source:
    """A source of measurements: :meth:`read` adds keys to ``values``."""

    name = ''

    def read(self, values: Dict[str, float]) -> Optional[List[str]]:
        """Add this source's values; return the active slowdown reasons (None: unknown)."""
        raise NotImplementedError

    def close(self) -> None:
        """Free what the source holds."""


class PsutilSource(Source):
    """Process and system CPU and memory through psutil."""

    name = 'psutil'

    def __init__(self, psutil: Any) -> None:
        self._psutil = psutil
        self._process = psutil.Process()
        self._process.cpu_percent(None)        # the first call only starts the interval
        psutil.cpu_percent(None)

    def read(self, values: Dict[str, float]) -> Optional[List[str]]:
        """Add process and system CPU and memory."""
        with self._process.oneshot():
            values['process cpu %'] = float(self._process.cpu_percent(None))
            values['process rss MB'] = self._process.memory_info().rss / 2**20
            values['process threads'] = float(self._process.num_threads())
        values['system cpu %'] = float(self._psutil.cpu_percent(None))
        values['system cpus'] = float(self._psutil.cpu_count() or 0)
        values['system memory used %'] = float(self._psutil.virtual_memory().percent)
        return None


class NvmlSource(Source):
    """One discrete NVIDIA GPU through NVML (nvidia-ml-py's ``pynvml``)."""

    name = 'nvml'

    def __init__(self, pynvml: Any, device: int) -> None:
        self._nvml = pynvml
        pynvml.nvmlInit()
        try:
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(int(device))
            name = pynvml.nvmlDeviceGetName(self._handle)
            self.device_name = name.decode() if isinstance(name, bytes) else str(name)
        except Exception:
            pynvml.nvmlShutdown()
            raise
        self._reasons = getattr(pynvml, 'nvmlDeviceGetCurrentClocksEventReasons', None) or \
            getattr(pynvml, 'nvmlDeviceGetCurrentClocksThrottleReasons', None)

    def read(self, values: Dict[str, float]) -> Optional[List[str]]:
        """Add utilisation, memory, temperature, power and clock; return slowdown reasons."""
        nvml, handle = self._nvml, self._handle
        values['gpu util %'] = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        memory = nvml.nvmlDeviceGetMemoryInfo(handle)
        values['gpu memory used MB'] = memory.used / 2**20
        values['gpu memory total MB'] = memory.total / 2**20
        values['gpu temperature C'] = float(
            nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))
        for key, read in (('gpu power W', lambda: nvml.nvmlDeviceGetPowerUsage(handle) / 1e3),
                          ('gpu sm clock MHz', lambda: float(nvml.nvmlDeviceGetClockInfo(
                              handle, nvml.NVML_CLOCK_SM)))):
            try:
                values[key] = float(read())
            except nvml.NVMLError:             # not supported on this board: leave it out
                pass
        if self._reasons is None:
            return None
        mask = int(self._reasons(handle))
        return [text for bit, text in NVML_SLOWDOWN_REASONS.items() if mask & bit]

    def close(self) -> None:
        """Shut NVML down."""
        self._nvml.nvmlShutdown()


def jtop_values(stats: Dict[str, Any]) -> Dict[str, float]:
    """Return the GPU keys found in a jtop ``stats`` dictionary (key names vary by release)."""
    values: Dict[str, float] = {}
    for key, value in stats.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        lower = str(key).lower()
        if lower == 'gpu':
            values['gpu util %'] = float(value)
        elif lower.startswith('temp') and 'gpu' in lower and value > -200:
            values['gpu temperature C'] = float(value)
        elif lower.startswith('power') and 'gpu' in lower:
            values['gpu power W'] = float(value) / 1e3
    return values


class JtopSource(Source):
    """A Jetson through jetson-stats' ``jtop`` client (its service reads the hardware)."""

    name = 'jtop'

    def __init__(self, jtop_module: Any) -> None:
        self._jetson = jtop_module.jtop()
        self._jetson.start()

    def read(self, values: Dict[str, float]) -> Optional[List[str]]:
        """Add the GPU keys of jtop's latest stats."""
        values.update(jtop_values(dict(self._jetson.stats)))
        return None

    def close(self) -> None:
        """Close the jtop client."""
        self._jetson.close()


_TEGRA_RAM = re.compile(r'\bRAM (\d+)/(\d+)MB')
_TEGRA_GR3D = re.compile(r'\bGR3D_FREQ (\d+)%(?:@\[?(\d+))?')
_TEGRA_TEMP = re.compile(r'\b(\w+)@(-?\d+(?:\.\d+)?)C\b')
_TEGRA_GPU_POWER = re.compile(r'\b(?:VDD_GPU_SOC|VDD_GPU|POM_5V_GPU) (\d+)(?:mW)?/')


def parse_tegrastats(line: str) -> Dict[str, float]:
    """Return the keys found in one line of ``tegrastats`` output (Nano to Orin formats)."""
    values: Dict[str, float] = {}
    ram = _TEGRA_RAM.search(line)
    if ram:
        values['system memory used %'] = 100.0 * int(ram.group(1)) / max(1, int(ram.group(2)))
    gr3d = _TEGRA_GR3D.search(line)
    if gr3d:
        values['gpu util %'] = float(gr3d.group(1))
        if gr3d.group(2):
            values['gpu clock MHz'] = float(gr3d.group(2))
    for zone, celsius in _TEGRA_TEMP.findall(line):
        if zone.lower() == 'gpu' and float(celsius) > -200:   # -256C: zone switched off
            values['gpu temperature C'] = float(celsius)
    power = _TEGRA_GPU_POWER.search(line)
    if power:
        values['gpu power W'] = int(power.group(1)) / 1e3
    return values


class TegrastatsSource(Source):
    """A Jetson without jtop: one ``tegrastats`` process whose lines a reader thread parses."""

    name = 'tegrastats'

    def __init__(self, executable: str, period_s: float) -> None:
        self._lock = threading.Lock()
        self._latest: Dict[str, float] = {}
        interval_ms = str(max(100, int(period_s * 1000)))
        self._process = subprocess.Popen(
            [executable, '--interval', interval_ms], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True)
        assert self._process.stdout is not None
        self._reader = threading.Thread(target=self._follow, args=(self._process.stdout,),
                                        name='tegrastats-reader', daemon=True)
        self._reader.start()

    def _follow(self, stream: IO[str]) -> None:
        for line in stream:
            values = parse_tegrastats(line)
            with self._lock:
                self._latest = values

    def read(self, values: Dict[str, float]) -> Optional[List[str]]:
        """Add the keys of the latest line."""
        with self._lock:
            values.update(self._latest)
        return None

    def close(self) -> None:
        """Stop the tegrastats process."""
        stop_process(self._process, timeout_s=2.0)


def open_sources(gpu_device: int = 0, period_s: float = 1.0,
                 jetson: Optional[bool] = None) -> Tuple[List[Source], Dict[str, str]]:
    """Open every source this machine has; return them and the absent ones with reasons.

    ``jetson`` None detects a Jetson by ``/etc/nv_tegra_release``. On a Jetson the GPU comes
    from jtop, else from a tegrastats stream; elsewhere from NVML.
    """
    sources: List[Source] = []
    absent: Dict[str, str] = {}
    psutil, why = optional_import('psutil')
    if psutil is None:
        absent['psutil'] = f'pip install psutil ({why})'
    else:
        sources.append(PsutilSource(psutil))
    if jetson is None:
        jetson = JETSON_RELEASE_FILE.is_file()
    if not jetson:
        pynvml, why = optional_import('pynvml')
        if pynvml is None:
            absent['gpu'] = f'nvml: pip install nvidia-ml-py ({why})'
            return sources, absent
        try:
            sources.append(NvmlSource(pynvml, gpu_device))
        except Exception as exc:  # noqa: B902 - no driver, no device: the GPU is absent
            absent['gpu'] = f'nvml: {type(exc).__name__}: {exc}'
        return sources, absent
    jtop_module, why_jtop = optional_import('jtop')
    if jtop_module is not None:
        try:
            sources.append(JtopSource(jtop_module))
            return sources, absent
        except Exception as exc:  # noqa: B902 - the jtop service is not running
            why_jtop = f'{type(exc).__name__}: {exc}'
    executable = shutil.which('tegrastats')
    if executable is None:
        absent['gpu'] = f'jtop: {why_jtop}; tegrastats: not on PATH'
        return sources, absent
    try:
        sources.append(TegrastatsSource(executable, period_s))
    except OSError as exc:
        absent['gpu'] = f'jtop: {why_jtop}; tegrastats: {exc}'
    return sources, absent


SourceOpener = Callable[[], Tuple[List[Source], Dict[str, str]]]


class SystemMonitor:
    """Sample every source once per ``period_s`` on a daemon thread; read the latest sample.

    Sources are opened on the sampling thread, so a slow NVML start never holds up the
    caller. A source that raises while reading is closed and reported absent with the error.
    """

    def __init__(self, period_s: float = 1.0, gpu_device: int = 0,
                 opener: Optional[SourceOpener] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not period_s > 0.0:
            raise ValueError(f'monitoring period must be > 0 s, got {period_s}')
        self._period = float(period_s)
        self._opener = opener or (lambda: open_sources(gpu_device, period_s))
        self._clock = clock
        self._lock = threading.Lock()
        self._latest: Optional[SystemSample] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._sources: List[Source] = []
        self._absent: Dict[str, str] = {}
        self._cpu_s = 0.0
        self._started_at = 0.0

    def start(self) -> None:
        """Start the sampling thread (once)."""
        if self._thread is not None:
            return
        self._started_at = self._clock()
        self._thread = threading.Thread(target=self._run, name='system-monitor', daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread and close the sources."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def latest(self) -> Optional[SystemSample]:
        """Return the newest sample (None before the first)."""
        with self._lock:
            return self._latest

    @property
    def cpu_seconds(self) -> float:
        """Return the CPU time the sampling thread used so far, opening the sources included."""
        with self._lock:
            return self._cpu_s

    def _run(self) -> None:
        begin = time.thread_time()
        self._sources, self._absent = self._opener()
        with self._lock:
            self._cpu_s += time.thread_time() - begin
        try:
            while True:
                self._sample()
                if self._stop.wait(self._period):
                    return
        finally:
            for source in self._sources:
                _close_quietly(source)

    def _sample(self) -> None:
        begin = time.thread_time()
        values: Dict[str, float] = {}
        reasons: Optional[List[str]] = None
        for source in list(self._sources):
            try:
                found = source.read(values)
            except Exception as exc:  # noqa: B902 - a failing source is dropped, not fatal
                self._sources.remove(source)
                self._absent[source.name] = f'stopped: {type(exc).__name__}: {exc}'
                _close_quietly(source)
                continue
            if found is not None:
                reasons = (reasons or []) + found
        now = self._clock()
        with self._lock:
            self._cpu_s += time.thread_time() - begin
            elapsed = now - self._started_at
            if elapsed > 0.0:
                values['monitor cpu %'] = 100.0 * self._cpu_s / elapsed
            self._latest = SystemSample(
                at=now, values=values, absent=dict(self._absent),
                sources=tuple(s.name for s in self._sources),
                throttled=None if reasons is None else bool(reasons),
                throttle_reasons=', '.join(reasons or ()))


def _close_quietly(source: Source) -> None:
    try:
        source.close()
    except Exception:  # noqa: B902 - closing must not take the thread down
        pass
