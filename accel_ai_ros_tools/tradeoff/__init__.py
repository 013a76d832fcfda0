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

"""Accuracy against latency per precision variant: metrics, report, Pareto front, advice.

:mod:`~accel_ai_ros_tools.tradeoff.metrics` and :mod:`~accel_ai_ros.precision_report` are
pure logic (no files opened except by ``save_report``/``load_report``, no rclpy);
``datasets`` reads images and annotations, ``plots`` writes PNG files with matplotlib, and
``benchmark precision`` (:mod:`accel_ai_ros_tools.bench_precision`) measures.
"""
