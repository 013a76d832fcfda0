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

"""The demo's data: scikit-learn's digits (grey 8x8 images, labels 0..9) and its fixed split.

The CSV ships inside the scikit-learn wheel and is read without importing scikit-learn. The
demo models are trained on :func:`split`'s training part; the trade-off study, the frame
sources and the tests read the held-out part through :func:`held_out_digits`.
"""

import importlib.util
from pathlib import Path
from typing import List
from typing import Tuple

import numpy as np

from accel_ai_ros.errors import BackendUnavailableError

IMAGE_SIZE = 8
NUM_CLASSES = 10
TEST_FRACTION = 0.25
_INSTALL_HINT = 'install it with: pip install scikit-learn'


def csv_path() -> Path:
    """Return the digits CSV that ships inside the scikit-learn wheel (without importing it)."""
    spec = importlib.util.find_spec('sklearn')
    if spec is None or spec.origin is None:
        raise BackendUnavailableError(f'scikit-learn is not installed; {_INSTALL_HINT}')
    path = Path(spec.origin).parent / 'datasets' / 'data' / 'digits.csv.gz'
    if not path.is_file():
        raise BackendUnavailableError(f'{path} is missing from this scikit-learn install; '
                                      f'reinstall it with: pip install --force-reinstall '
                                      f'scikit-learn')
    return path


def split(seed: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return ``x_train, x_test, y_train, y_test``; images float32 (N, 8, 8) in 0..16.

    The split is stratified: ``TEST_FRACTION`` of every class, chosen by a NumPy
    ``default_rng(seed)`` permutation, so it is the same on every machine.
    """
    table = np.loadtxt(csv_path(), delimiter=',', dtype=np.float32)
    images = table[:, :-1].reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    labels = table[:, -1].astype(np.int64)
    rng = np.random.default_rng(seed)
    test: List[np.ndarray] = []
    for digit in range(NUM_CLASSES):
        members = rng.permutation(np.flatnonzero(labels == digit))
        test.append(members[:int(round(len(members) * TEST_FRACTION))])
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[np.concatenate(test)] = True
    train_idx = rng.permutation(np.flatnonzero(~is_test))
    test_idx = np.flatnonzero(is_test)
    return images[train_idx], images[test_idx], labels[train_idx], labels[test_idx]


def held_out_digits(seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Return the held-out images as uint8 (N, 8, 8) in 0..255 and their int64 labels.

    The split is the one the demo models hold out for the same ``seed``; the
    dataset's 0..16 values are scaled by 255/16, so ink stays bright on a dark background.
    """
    _, x_test, _, y_test = split(seed)
    pixels = np.clip(np.rint(x_test * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    return pixels, y_test
