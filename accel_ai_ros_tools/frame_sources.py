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

"""Frame generators for the image source, free of ROS.

Every source is an iterable of ``(image, label)`` pairs: ``image`` is an ``H x W x 3`` uint8
BGR array of the requested size and ``label`` the true class when the source knows it, else
``None``. Sources cycle forever; the caller decides when to stop.
"""

from pathlib import Path
from typing import Iterator
from typing import List
from typing import Optional
from typing import Tuple

import cv2
import numpy as np

from accel_ai_ros.errors import AccelAiError
from accel_ai_ros.errors import ParameterError

Frame = Tuple[np.ndarray, Optional[int]]
SOURCE_KINDS = ('digits', 'pattern', 'folder', 'video', 'v4l2')
DEFAULT_V4L2_DEVICE = '/dev/video0'
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png')

# BGR colours of the classic colour bars: white, yellow, cyan, green, magenta, red, blue, black.
_BARS = np.array([[255, 255, 255], [0, 255, 255], [255, 255, 0], [0, 255, 0],
                  [255, 0, 255], [0, 0, 255], [255, 0, 0], [0, 0, 0]], dtype=np.uint8)


class FrameSource:
    """Base class: a sized, endless iterable of ``(BGR image, label)`` frames."""

    def __init__(self, width: int, height: int) -> None:
        """Check and store the frame size."""
        if int(width) <= 0 or int(height) <= 0:
            raise ParameterError(f'frame size {width}x{height} is invalid; width and height '
                                 f'must be positive integers (e.g. 640x480)')
        self.width = int(width)
        self.height = int(height)

    def __iter__(self) -> Iterator[Frame]:
        """Yield frames forever."""
        raise NotImplementedError

    def _fit(self, image: np.ndarray) -> np.ndarray:
        """Return ``image`` as BGR uint8 at the source's size (stretched when it differs)."""
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        elif image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        if image.shape[:2] != (self.height, self.width):
            image = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(image, dtype=np.uint8)


class DigitsSource(FrameSource):
    """The held-out digits of the demo model, one per frame, with their labels.

    Each 8x8 digit (ink bright on dark, as the model was trained) is scaled up with nearest
    neighbour to a square of side ``min(width, height)`` and centred on a black frame, so a
    centre crop followed by a resize to 8x8 gives the digit back.
    """

    def __init__(self, width: int, height: int, seed: int = 0) -> None:
        """Load the held-out split of ``seed`` (the one ``make_demo_models`` holds out)."""
        super().__init__(width, height)
        from accel_ai_ros_tools.digits import held_out_digits
        self.images, labels = held_out_digits(seed)
        self.labels = [int(v) for v in labels]

    def __len__(self) -> int:
        """Return the number of distinct digits before the cycle repeats."""
        return len(self.labels)

    def render(self, index: int) -> np.ndarray:
        """Return digit ``index`` drawn on a black BGR frame."""
        side = min(self.width, self.height)
        square = cv2.resize(self.images[index], (side, side), interpolation=cv2.INTER_NEAREST)
        top = (self.height - side) // 2
        left = (self.width - side) // 2
        # OpenCV's own colour conversion and padding: ~10x faster than numpy broadcasting.
        return cv2.copyMakeBorder(
            cv2.cvtColor(square, cv2.COLOR_GRAY2BGR), top, self.height - side - top,
            left, self.width - side - left, cv2.BORDER_CONSTANT, value=(0, 0, 0))

    def __iter__(self) -> Iterator[Frame]:
        """Yield every held-out digit in order, forever."""
        while True:
            for index, label in enumerate(self.labels):
                yield self.render(index), label


class TestPatternSource(FrameSource):
    """Eight vertical colour bars that move one bar width every eight frames."""

    __test__ = False  # not a pytest test class, despite its name

    def __iter__(self) -> Iterator[Frame]:
        """Yield moving colour bars, label ``None``."""
        bar = max(1, self.width // len(_BARS))
        columns = np.arange(2 * self.width) // bar % len(_BARS)
        row = _BARS[columns]  # (2W, 3)
        step = max(1, bar // 8)
        shift = 0
        while True:
            start = shift % self.width
            frame = np.ascontiguousarray(np.broadcast_to(
                row[start:start + self.width], (self.height, self.width, 3)))
            yield frame, None
            shift += step


class ImageFolderSource(FrameSource):
    """Every ``.jpg``/``.jpeg``/``.png`` under a folder, in sorted order, forever.

    The label of an image is its parent folder's name when that is an integer
    (``digits/7/a.png`` -> 7), else ``None``. Images are stretched to the frame size.
    """

    def __init__(self, path: str, width: int, height: int) -> None:
        """Find the images; raise :class:`AccelAiError` when there are none."""
        super().__init__(width, height)
        root = Path(path).expanduser()
        if not str(path) or not root.is_dir():
            raise AccelAiError(f"image folder '{path}' does not exist or is not a folder; "
                               f'set the path parameter to a folder of .jpg/.png images')
        self.files: List[Path] = sorted(
            p for p in root.rglob('*') if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise AccelAiError(f"image folder '{root}' holds no .jpg/.jpeg/.png files; "
                               f'put images in it (or in integer-named sub-folders for labels)')
        self.path = root

    @staticmethod
    def label_of(path: Path) -> Optional[int]:
        """Return the integer name of ``path``'s parent folder, or ``None``."""
        try:
            return int(path.parent.name)
        except ValueError:
            return None

    def __iter__(self) -> Iterator[Frame]:
        """Yield each readable image in turn, forever; skip unreadable ones."""
        while True:
            yielded = False
            for path in self.files:
                image = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if image is None:
                    continue
                yielded = True
                yield self._fit(image), self.label_of(path)
            if not yielded:
                raise AccelAiError(f"no image under '{self.path}' could be decoded; "
                                   f'check that the .jpg/.png files are not corrupt')


class VideoFileSource(FrameSource):
    """The frames of a video file, rewound at its end, label ``None``."""

    kind = 'video file'
    check = 'check that the file is complete'

    def __init__(self, path: str, width: int, height: int) -> None:
        """Open the video; raise :class:`AccelAiError` when it cannot be read."""
        super().__init__(width, height)
        self.path = Path(path).expanduser()
        if not str(path) or not self.path.is_file():
            raise AccelAiError(f"video file '{path}' does not exist; set the path parameter "
                               f'to a video file OpenCV can read (e.g. .mp4, .avi)')
        self._capture = cv2.VideoCapture(str(self.path))
        ok, first = self._capture.read() if self._capture.isOpened() else (False, None)
        if not ok or first is None:
            self._capture.release()
            raise AccelAiError(f"video file '{self.path}' cannot be decoded by OpenCV; "
                               f'convert it to an MJPG .avi or H.264 .mp4 (e.g. with ffmpeg)')
        self._first: Optional[np.ndarray] = first

    def __iter__(self) -> Iterator[Frame]:
        """Yield the video's frames forever, rewinding at the end."""
        while True:
            if self._first is not None:
                frame, self._first = self._first, None
                yield self._fit(frame), None
                continue
            ok, frame = self._capture.read()
            if not ok:
                self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, frame = self._capture.read()
                if not ok:
                    raise AccelAiError(f"{self.kind} '{self.path}' stopped giving frames; "
                                       f'{self.check}')
            yield self._fit(frame), None

    def close(self) -> None:
        """Release the video file."""
        self._capture.release()


class V4l2CameraSource(VideoFileSource):
    """A V4L2 camera read through OpenCV at the requested size, label ``None``."""

    kind = 'V4L2 device'
    check = 'check the cable and that no other process opened the camera'

    def __init__(self, device: str, width: int, height: int) -> None:  # noqa: D107
        FrameSource.__init__(self, width, height)
        self.path = Path(device or DEFAULT_V4L2_DEVICE)
        self._capture = cv2.VideoCapture(str(self.path), cv2.CAP_V4L2)
        if self._capture.isOpened():
            self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        ok, first = self._capture.read() if self._capture.isOpened() else (False, None)
        if not ok or first is None:
            self._capture.release()
            raise AccelAiError(f"V4L2 device '{self.path}' gives no frames; set the path "
                               f'parameter to a camera device (v4l2-ctl --list-devices) that '
                               f'no other process holds')
        self._first = first


def make_source(kind: str, path: str, width: int, height: int, seed: int = 0) -> FrameSource:
    """Return the frame source named ``kind``: 'digits', 'pattern', 'folder', 'video', 'v4l2'."""
    if kind == 'digits':
        return DigitsSource(width, height, seed=seed)
    if kind == 'pattern':
        return TestPatternSource(width, height)
    if kind == 'folder':
        return ImageFolderSource(path, width, height)
    if kind == 'video':
        return VideoFileSource(path, width, height)
    if kind == 'v4l2':
        return V4l2CameraSource(path, width, height)
    raise ParameterError(f"source '{kind}' is unknown; use one of {', '.join(SOURCE_KINDS)}")
