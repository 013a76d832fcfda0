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

"""One exception family for accel_ai_ros.

Every error raised on purpose by this package derives from :class:`AccelAiError`, and its
message says what went wrong *and what to do about it*, the way cv_bridge's ``CvBridgeError``
does. Command-line tools catch :class:`AccelAiError`, print the message and exit 1 without a
traceback.
"""


class AccelAiError(Exception):
    """Base class of every error this package raises on purpose."""


class ImageDecodeError(AccelAiError):
    """
    An image message cannot be turned into pixels (encoding, sizes, data length).

    ``kind`` says which rule refused it, so that logs can be rate-limited per kind:
    ``'encoding'``, ``'size'`` (fields that disagree), ``'short_data'``, ``'too_large'``,
    ``'bad_header'`` (a compressed header) or ``'decode'`` (the decoder gave up).
    """

    def __init__(self, message: str, kind: str = 'decode') -> None:
        super().__init__(message)
        self.kind = kind


class PreprocessError(AccelAiError):
    """A preprocessing specification does not fit the image or the model."""


class EngineError(AccelAiError):
    """An engine or model file is missing, truncated, corrupt or built for something else."""


class BackendUnavailableError(AccelAiError):
    """An optional backend library (TensorRT, ONNX Runtime, PyTorch) cannot be imported."""


class InferenceError(AccelAiError):
    """Inputs do not match the engine's metadata, or the backend failed while running."""


class NonFiniteOutputError(InferenceError):
    """An engine produced NaN or infinite values: its results would be meaningless."""


class PostprocessError(AccelAiError):
    """Output tensors do not have a layout the configured task understands."""


class ParameterError(AccelAiError):
    """A parameter value is invalid; the message names the allowed values."""


def quoted_input(text: object, limit: int = 64) -> str:
    """
    Return a string from a message, quoted for a log line: control characters escaped, cut.

    A sender controls fields such as ``encoding`` and ``format``: a newline in them would
    forge a log line, and a megabyte of them would flood the log.
    """
    value = str(text)
    cut = len(value) - limit
    if cut > 0:
        value = value[:limit]
    shown = value.encode('unicode_escape').decode('ascii').replace("'", "\\'")
    return f"'{shown}'" + (f' (and {cut} more characters)' if cut > 0 else '')


def collapse_whitespace(text: object) -> str:
    """Return ``str(text)`` with every run of whitespace (newlines included) as one space."""
    return ' '.join(str(text).split())


def error_text(error: BaseException) -> str:
    """Return an exception's text on one line, or its type's name when it has no text."""
    return collapse_whitespace(error) or type(error).__name__


def one_line(text: object, limit: int = 1000) -> str:
    """Return ``text`` as one log line: control characters escaped, at most ``limit`` long."""
    value = ''.join(c if c.isprintable() else c.encode('unicode_escape').decode('ascii')
                    for c in str(text))
    return value if len(value) <= limit else value[:limit] + ' [...]'
