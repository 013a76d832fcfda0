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

"""
Start the inference node process: one clear line for every bad start, exit 0 on a signal.

This is the ``inference_node`` executable. It imports nothing heavy before it has taken
SIGINT and SIGTERM, so Ctrl-C in the first second (while OpenCV, ONNX Runtime and rclpy
load) ends the process quietly with exit code 0 instead of a traceback from inside an
import. A bad parameter value, an unreadable parameter file or bad ``--ros-args`` end it
with one line on stderr that names the parameter or the file and the fix, and exit code 1.
Anything else is a bug and keeps its traceback.
"""

import logging
import re
import signal
import sys
from types import FrameType
from typing import Any
from typing import List
from typing import Optional

PROG = 'inference_node'
_signalled: List[int] = []


def _on_signal(signum: int, frame: Optional[FrameType]) -> None:
    first = not _signalled
    _signalled.append(signum)
    if first:
        raise KeyboardInterrupt


def _note_signal(signum: int, frame: Optional[FrameType]) -> None:
    _signalled.append(signum)


def _take_signals(handler: Any) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, handler)
        except ValueError:  # not the main thread: leave signals to the caller
            return


def note_signals() -> List[int]:
    """Let SIGINT and SIGTERM only be noted from now on; return the list they are noted in.

    rclpy.init chains its own handler to this one, and that handler shuts the context down,
    which ends spin in order; no KeyboardInterrupt is raised at an arbitrary point (inside
    a clean-up, say, when ``ros2 launch`` forwards a second Ctrl-C).
    """
    _take_signals(_note_signal)
    return _signalled


def ignore_late_signals() -> None:
    """Ignore SIGINT and SIGTERM for the rest of an exiting process.

    Python gives a signal with a handler of its own back to the default action while the
    interpreter shuts down, so a second Ctrl-C arriving then (ros2 launch forwards one after
    the terminal's) would end the process by the signal instead of with its exit code.
    """
    _take_signals(signal.SIG_IGN)


def explain_rcl_error(text: str) -> str:
    """Return one line for an RCLError raised while rclpy reads the command line."""
    match = re.search(r"params file: '(?:--params-file )?([^']*)'\. Error: (.*)", text)
    if match:
        path, why = match.group(1), match.group(2)
        why = re.split(r', at [^,]*:\d+', why)[0].strip().rstrip('.')
        return (f'cannot read the parameter file {path}: {why}. Check that the file exists '
                'and is YAML shaped like config/defaults.yaml (<node name>: ros__parameters: '
                '<name>: <value>).')
    text = re.split(r', at [^,]*:\d+', text)[0].strip()
    return (f'invalid command-line arguments: {text}. Pass parameters as '
            "'--ros-args -p name:=value' or '--ros-args --params-file file.yaml'.")


def _one_line(exc: BaseException) -> Optional[str]:
    """Return the line that explains a start-up failure, or None for a bug."""
    from accel_ai_ros.errors import AccelAiError
    from accel_ai_ros.errors import one_line
    if isinstance(exc, AccelAiError):
        return one_line(exc)
    from rclpy.exceptions import ParameterException
    if isinstance(exc, ParameterException):
        return one_line(f'invalid parameter: {exc}. Fix it in the parameter file or the -p '
                        'argument (config/defaults.yaml lists every parameter).')
    if type(exc).__name__ == 'RCLError':
        return one_line(explain_rcl_error(str(exc)))
    return None


def run(args: Optional[List[str]] = None) -> int:
    """Run the inference node until a signal or shutdown; return the process exit code."""
    _take_signals(_on_signal)
    rclpy: Any = None
    node: Any = None
    initialised = False
    try:
        import rclpy
        from rclpy.executors import ExternalShutdownException

        from accel_ai_ros.image_codec import captured_stderr
        from accel_ai_ros.node import InferenceNode
        logging.basicConfig(level=logging.INFO,
                            format='[%(levelname)s] [%(name)s]: %(message)s')
        # From here a signal is only noted: rclpy.init chains its own handler to this one,
        # and that handler shuts the context down, which ends spin in order. An exception
        # raised at an arbitrary point (say inside Thread.start) would leave half-made state.
        _take_signals(_note_signal)
        if _signalled:
            return 0
        # rcl logs its own "Failed to parse global arguments" before raising: the line
        # below says it better, so rcl's words are only passed on when init succeeds.
        with captured_stderr() as rcl_said:
            rclpy.init(args=args)
        initialised = True
        if rcl_said.text():
            sys.stderr.write(rcl_said.text())
        if _signalled:
            return 0
        node = InferenceNode()
        try:
            if not _signalled:
                rclpy.spin(node)
        except ExternalShutdownException:
            pass
        return 0
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # noqa: B902 - every start-up failure ends in one line
        if _signalled or (initialised and not rclpy.ok()):
            return 0    # the failure is the signal's doing (an interrupted import or init)
        line = _one_line(exc)
        if line is None:
            raise
        print(f'{PROG}: {line}', file=sys.stderr, flush=True)
        return 1
    finally:
        _take_signals(_note_signal)       # a second Ctrl-C must not cut the clean-up short
        if node is not None:
            node.destroy_node()
        if rclpy is not None and hasattr(rclpy, 'try_shutdown'):
            rclpy.try_shutdown()
        ignore_late_signals()


def main(args: Optional[List[str]] = None) -> None:
    """Run the inference node; exit 1 with one line on a bad start, 0 on a signal."""
    sys.exit(run(args))


if __name__ == '__main__':
    main()
