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

"""Measurements an operator reads, and the decisions made from them (free of rclpy).

:mod:`.system` samples the process, the machine and the GPU on its own thread;
:mod:`.health` turns frame counts, latencies and samples into one diagnostic level;
:mod:`.adaptive` is the adaptive-precision policy, a pure function of measurements.
"""
