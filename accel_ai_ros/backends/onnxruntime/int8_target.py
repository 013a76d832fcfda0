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

"""Which INT8 model suits which hardware: the CPU's integer dot product and the model's target.

ONNX Runtime's x86 integer kernels (MLAS) multiply uint8 activations by int8 weights. With
VNNI (``avx512_vnni``, ``avx_vnni``, or AMX) one instruction sums the four products into
int32. Without it, on AVX2-only CPUs, ``vpmaddubsw`` first adds pairs of products into int16
and saturates: with full 8-bit weights two large products overflow. ONNX Runtime's answer is
``reduce_range`` (7-bit weights), which cannot overflow. Measured on the demo classifier under
QEMU's Haswell model (AVX2, no VNNI): full-range weights give outputs up to 0.45 off (0.98
with symmetric int8 activations), 7-bit weights 0.05, the same as on a VNNI CPU.

A variant records the target it was made for in the model's metadata
(:data:`INT8_TARGET_KEY`, :data:`REDUCE_RANGE_KEY`), so the runner can warn when it runs
somewhere else. aarch64 kernels widen to int32 before adding and never need the reduced range.
"""

from dataclasses import dataclass
import functools
import importlib
import platform
from typing import FrozenSet
from typing import Mapping
from typing import Optional
from typing import Sequence

#: Metadata keys a variant carries (ONNX ``metadata_props``).
INT8_TARGET_KEY = 'accel_ai_ros.int8_target'
REDUCE_RANGE_KEY = 'accel_ai_ros.int8_reduce_range'
#: The INT8 targets ``make_variants --int8-target`` makes.
INT8_TARGETS = ('tensorrt', 'cpu')
#: CPU flags (as /proc/cpuinfo names them) of an int8 dot product that sums into int32.
VNNI_FLAGS = ('avx512_vnni', 'avx_vnni', 'amx_int8')
_X86 = ('x86_64', 'amd64', 'i386', 'i686')
#: numpy's runtime CPU-dispatch names (from the CPUID instruction) and /proc/cpuinfo's.
_CPUID_NAMES = {'AVX2': 'avx2', 'AVX512F': 'avx512f', 'AVX512BW': 'avx512bw',
                'AVX512VNNI': 'avx512_vnni'}


@dataclass(frozen=True)
class CpuInt8Support:
    """What this CPU offers ONNX Runtime's integer kernels, and where that was read."""

    machine: str
    flags: FrozenSet[str]
    source: str

    @property
    def x86(self) -> bool:
        """Whether the CPU is of the x86 family (where MLAS's AVX2 kernels can saturate)."""
        return self.machine.lower() in _X86

    @property
    def vnni(self) -> bool:
        """Whether an int8 dot product sums into int32 without saturating."""
        return any(flag in self.flags for flag in VNNI_FLAGS)

    @property
    def needs_reduce_range(self) -> bool:
        """Whether uint8 x int8 products can saturate here (x86 without VNNI)."""
        return self.x86 and not self.vnni

    def describe(self) -> str:
        """Return one line, e.g. 'x86_64, avx2, avx512_vnni (from /proc/cpuinfo)'."""
        shown = [f for f in ('avx2', 'avx512f') + VNNI_FLAGS if f in self.flags]
        if not self.x86:
            shown = sorted(f for f in self.flags if f in ('asimddp', 'i8mm', 'sve'))
        return f'{self.machine}, {", ".join(shown) or "no int8 dot product"} ' \
               f'(from {self.source})'


def parse_cpuinfo(text: str) -> FrozenSet[str]:
    """Return the flags of the first CPU in /proc/cpuinfo text (x86 'flags', Arm 'Features')."""
    for line in text.splitlines():
        key, _, value = line.partition(':')
        if key.strip() in ('flags', 'Features'):
            return frozenset(value.split())
    return frozenset()


def _cpuid_features() -> Optional[Mapping[str, bool]]:
    """Return numpy's CPUID-based feature table (its SIMD dispatch reads it), or None."""
    for name in ('numpy._core._multiarray_umath', 'numpy.core._multiarray_umath'):
        try:
            features = getattr(importlib.import_module(name), '__cpu_features__', None)
        except ImportError:
            continue
        if isinstance(features, dict):
            return dict(features)
    return None


def support_from(machine: str, cpuinfo: str,
                 cpuid: Optional[Mapping[str, bool]]) -> CpuInt8Support:
    """
    Combine /proc/cpuinfo's flags with what the CPUID instruction reports to this process.

    They differ under an emulator or a hypervisor that masks features (QEMU's user mode
    passes the host's /proc/cpuinfo through while emulating another CPU). The kernels
    ONNX Runtime picks follow CPUID, so when the two disagree CPUID wins, and flags CPUID
    cannot confirm (``avx_vnni``, ``amx_int8``) count as absent: the safe side.
    """
    flags = parse_cpuinfo(cpuinfo)
    source = '/proc/cpuinfo'
    if machine.lower() in _X86 and cpuid:
        checked = {name: bool(cpuid.get(key)) for key, name in _CPUID_NAMES.items()
                   if key in cpuid}
        if any(present != (name in flags) for name, present in checked.items()):
            flags = frozenset(name for name, present in checked.items() if present)
            source = 'CPUID; /proc/cpuinfo describes another CPU'
    return CpuInt8Support(machine, flags, source)


@functools.lru_cache(maxsize=1)
def cpu_int8_support() -> CpuInt8Support:
    """Return this CPU's :class:`CpuInt8Support` (read once)."""
    try:
        with open('/proc/cpuinfo', encoding='utf-8', errors='replace') as f:
            text = f.read()
    except OSError:
        text = ''
    return support_from(platform.machine(), text, _cpuid_features())


def target_warning(metadata: Mapping[str, str], providers: Sequence[str],
                   support: CpuInt8Support) -> Optional[str]:
    """
    Return why an INT8 model runs off its target on these providers, or None.

    ``metadata`` is the model's ``metadata_props``; models without a recorded target
    (FP32, FP16, other tools' INT8) get None.
    """
    target = metadata.get(INT8_TARGET_KEY)
    on_tensorrt = 'TensorrtExecutionProvider' in providers
    if target == 'tensorrt' and not on_tensorrt:
        slow = 'on a CPU without VNNI it also loses accuracy (int16 saturation), ' \
            if support.needs_reduce_range else ''
        return (f'INT8 model made for TensorRT (symmetric int8 activations) runs on ONNX '
                f"Runtime's {', '.join(providers)}: {slow}expect it slower than FP32; make "
                f'a CPU variant with make_variants --int8-target cpu')
    if target == 'cpu' and on_tensorrt:
        return ('INT8 model made for the CPU (uint8 activations with zero points) runs on '
                'TensorRT, which wants symmetric int8: make it with make_variants '
                '--int8-target tensorrt')
    if target == 'cpu' and metadata.get(REDUCE_RANGE_KEY) == 'false' and \
            support.needs_reduce_range:
        return (f'INT8 model made for a CPU with VNNI (8-bit weights) runs on a CPU '
                f'without it ({support.describe()}): sums saturate and accuracy drops; '
                f'make it on this CPU, or with make_variants --int8-reduce-range on')
    return None
