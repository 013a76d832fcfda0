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

"""A component container for rclpy nodes, served the way rclcpp_components serves C++ ones.

``component_container`` answers composition_interfaces' ``LoadNode``, ``UnloadNode`` and
``ListNodes`` on ``~/_container/load_node``, ``~/_container/unload_node`` and
``~/_container/list_nodes``, so ``ros2 component load/list/unload`` and launch_ros's
``ComposableNodeContainer`` and ``LoadComposableNodes`` work with Python nodes. As in
rclcpp_components' ``ComponentManager``:

- a plugin is a class registered by a package; Python packages register theirs as entry points
  in the ``rclpy_components`` group (``'accel_ai_ros::InferenceNode =
  accel_ai_ros.node:InferenceNode'``), and the request's ``package_name`` must be the
  distribution that registers ``plugin_name``;
- the node gets the request's parameters as overrides, its remap rules, ``__node:=`` and
  ``__ns:=`` for a non-empty name and namespace, and no process-wide arguments;
- ids count up from 1 and are never reused; every node spins on the container's
  multi-threaded executor (``thread_num`` parameter, 0: one thread per CPU).

Extra arguments: ``use_intra_process_comms`` (bool) lets the node hand frames to other nodes of
this process without DDS (:mod:`accel_ai_ros.intra_process`); ``forward_global_arguments``
(bool) and ``enable_rosout`` (bool) are passed to the node. Anything else, or a value of the
wrong type, refuses the load with the reason (rclcpp ignores unknown ones silently).
"""

import array
import gc
import importlib.metadata
import threading
from typing import Any
from typing import Callable
from typing import Dict
from typing import List
from typing import Optional
from typing import Tuple

from composition_interfaces.srv import ListNodes
from composition_interfaces.srv import LoadNode
from composition_interfaces.srv import UnloadNode
from rcl_interfaces.msg import ParameterDescriptor
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.executors import MultiThreadedExecutor
from rclpy.logging import LoggingSeverity
from rclpy.node import Node
from rclpy.parameter import Parameter

from accel_ai_ros import intra_process
from accel_ai_ros.errors import AccelAiError

ENTRY_POINT_GROUP = 'rclpy_components'
_BOOL_ARGUMENTS = ('use_intra_process_comms', 'forward_global_arguments', 'enable_rosout')
_LOG_LEVELS = {int(s) for s in LoggingSeverity if int(s) > 0}


class ComponentError(AccelAiError):
    """A load request that cannot be served; the message goes back to the caller."""


def find_plugin(package_name: str, plugin_name: str) -> Callable[..., Node]:
    """Return the node class that ``package_name`` registers as ``plugin_name``.

    Raises :class:`ComponentError` naming what the package does register.
    """
    registered: Dict[str, importlib.metadata.EntryPoint] = {}
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(entry, 'dist', None)
        if dist is not None and _normalise(dist.name) == _normalise(package_name):
            registered[entry.name] = entry
    if not registered:
        raise ComponentError(
            f"package '{package_name}' registers no Python components (entry points in the "
            f"'{ENTRY_POINT_GROUP}' group); is it installed in this environment?")
    if plugin_name not in registered:
        raise ComponentError(
            f"package '{package_name}' has no component '{plugin_name}'; it registers "
            f"{', '.join(sorted(registered))}")
    entry = registered[plugin_name]
    try:
        return entry.load()
    except Exception as exc:  # noqa: B902 - any import failure is the caller's answer
        raise ComponentError(f'importing {entry.value} failed: {type(exc).__name__}: {exc}')


def _normalise(name: str) -> str:
    return name.lower().replace('-', '_')


def node_options(request: Any) -> Dict[str, Any]:
    """Return the rclpy Node keyword arguments a ``LoadNode`` request asks for.

    ``use_intra_process_comms`` comes back as its own key, for the container to apply.
    Raises :class:`ComponentError` for an unknown extra argument or a wrong type.
    """
    extras: Dict[str, bool] = {}
    for msg in request.extra_arguments:
        argument = Parameter.from_parameter_msg(msg)
        if argument.name not in _BOOL_ARGUMENTS:
            raise ComponentError(
                f"extra argument '{argument.name}' is not supported by this container; it "
                f"takes {', '.join(_BOOL_ARGUMENTS)}")
        if argument.type_ != Parameter.Type.BOOL:
            raise ComponentError(f"extra argument '{argument.name}' must be a boolean")
        extras[argument.name] = bool(argument.value)
    args = ['--ros-args']
    for rule in request.remap_rules:
        args += ['-r', rule]
    if request.node_name:
        args += ['-r', f'__node:={request.node_name}']
    if request.node_namespace:
        args += ['-r', f'__ns:={request.node_namespace}']
    return {
        'cli_args': args,
        'parameter_overrides': [_plain(Parameter.from_parameter_msg(p))
                                for p in request.parameters],
        'use_global_arguments': extras.get('forward_global_arguments', False),
        'enable_rosout': extras.get('enable_rosout', True),
        'use_intra_process_comms': extras.get('use_intra_process_comms', False),
    }


def _plain(parameter: Parameter) -> Parameter:
    """Return ``parameter`` with an ``array`` value as a list, as a parameter file gives it.

    ``Parameter.from_parameter_msg`` returns arrays of numbers as ``array.array``, which a
    node validating its overrides may not expect (a parameter file yields lists).
    """
    if isinstance(parameter.value, array.array):
        return Parameter(parameter.name, parameter.type_, list(parameter.value))
    return parameter


class ComponentContainer(Node):
    """A node that loads, lists and unloads other nodes into its executor."""

    def __init__(self, node_name: str = 'ComponentManager', **kwargs: Any) -> None:
        """Create the container's services.

        Loaded nodes join the executor the container itself was added to.
        """
        super().__init__(node_name, **kwargs)
        self.thread_num = int(self.declare_parameter('thread_num', 0, ParameterDescriptor(
            description='executor threads of component_container; 0: one per CPU',
            read_only=True)).value)
        self._lock = threading.Lock()
        self._nodes: Dict[int, Node] = {}
        self._next_id = 1
        self.create_service(LoadNode, '~/_container/load_node', self._on_load_node)
        self.create_service(UnloadNode, '~/_container/unload_node', self._on_unload_node)
        self.create_service(ListNodes, '~/_container/list_nodes', self._on_list_nodes)

    @property
    def nodes(self) -> Dict[int, Node]:
        """Return the loaded nodes by unique id (a copy)."""
        with self._lock:
            return dict(self._nodes)

    def load(self, request: Any) -> Tuple[int, Node]:
        """Construct the node a ``LoadNode`` request describes; return its id and the node.

        The node already spins on the container's executor when this returns.

        Raises :class:`ComponentError` with the reason when it cannot.
        """
        if request.log_level and request.log_level not in _LOG_LEVELS:
            raise ComponentError(
                f'log_level {request.log_level} is not a level; use one of '
                f'{sorted(_LOG_LEVELS)} (rcl_interfaces/Log) or 0 for the default')
        plugin = find_plugin(request.package_name, request.plugin_name)
        options = node_options(request)
        intra = options.pop('use_intra_process_comms')
        try:
            node = plugin(context=self.context, **options)
        except Exception as exc:  # noqa: B902 - rclcpp answers any constructor failure too
            reason = f'component constructor threw an exception: {type(exc).__name__}: {exc}'
        else:
            reason = ''
        if reason:
            # The half-built node leaves the graph once nothing refers to it any more.
            gc.collect()
            raise ComponentError(reason)
        if request.log_level:
            node.get_logger().set_level(LoggingSeverity(request.log_level))
        if intra:
            intra_process.bus_for(self.context).enable(node)
        with self._lock:
            unique_id = self._next_id
            self._next_id += 1
            self._nodes[unique_id] = node
        if self.executor is not None:
            self.executor.add_node(node)
        return unique_id, node

    def unload(self, unique_id: int) -> None:
        """Remove the node ``unique_id`` from the executor and destroy it."""
        with self._lock:
            node = self._nodes.pop(unique_id, None)
        if node is None:
            raise ComponentError(f'No node found with unique_id: {unique_id}')
        if self.executor is not None:
            self.executor.remove_node(node)
        node.destroy_node()

    def unload_all(self) -> None:
        """Unload every node, newest first."""
        for unique_id in sorted(self.nodes, reverse=True):
            self.unload(unique_id)

    def _on_load_node(self, request: Any, response: Any) -> Any:
        try:
            unique_id, node = self.load(request)
        except ComponentError as exc:
            self.get_logger().error(f'loading {request.plugin_name} failed: {exc}')
            response.success = False
            response.error_message = str(exc)
            return response
        response.success = True
        response.full_node_name = node.get_fully_qualified_name()
        response.unique_id = unique_id
        self.get_logger().info(
            f'loaded {request.plugin_name} as {response.full_node_name} (id {unique_id})')
        return response

    def _on_unload_node(self, request: Any, response: Any) -> Any:
        try:
            self.unload(int(request.unique_id))
        except ComponentError as exc:
            self.get_logger().warning(str(exc))
            response.success = False
            response.error_message = str(exc)
            return response
        response.success = True
        return response

    def _on_list_nodes(self, request: Any, response: Any) -> Any:
        nodes = self.nodes
        response.unique_ids = list(nodes)
        response.full_node_names = [n.get_fully_qualified_name() for n in nodes.values()]
        return response


def main(args: Optional[List[str]] = None) -> None:
    """Run a component container until Ctrl-C or shutdown."""
    rclpy.init(args=args)
    container: Optional[ComponentContainer] = None
    try:
        container = ComponentContainer()
        executor = MultiThreadedExecutor(num_threads=container.thread_num or None)
        executor.add_node(container)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if container is not None:
            container.unload_all()
            container.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
