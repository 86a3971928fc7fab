"""The type of every value of a model, as far as the model and ONNX inference know it.

The model's own inputs, outputs and value_info come first. If some node output is left
without a type, ONNX shape inference runs on a *skeleton* of the model: the same graph
with every large initializer replaced by a typed graph input, so that no weight is
copied or serialized (small initializers stay, since shapes often depend on them).
"""

from __future__ import annotations

import onnx
from onnx import shape_inference

SKELETON_MAX_ELEMENTS = 1024


def _walk_graphs(graph: onnx.GraphProto):
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from _walk_graphs(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    yield from _walk_graphs(g)


def _known_types(graph: onnx.GraphProto, types: dict[str, onnx.TypeProto]) -> None:
    for graph_ in _walk_graphs(graph):
        for vi in (*graph_.value_info, *graph_.input, *graph_.output):
            if vi.type.WhichOneof("value") is not None:
                types.setdefault(vi.name, vi.type)


def _missing_any(graph: onnx.GraphProto, types: dict[str, onnx.TypeProto]) -> bool:
    return any(
        name and name not in types
        for graph_ in _walk_graphs(graph)
        for node in graph_.node
        for name in node.output
    )


def _skeleton(model: onnx.ModelProto) -> onnx.ModelProto:
    skeleton = onnx.ModelProto()
    skeleton.ir_version = model.ir_version
    skeleton.opset_import.extend(model.opset_import)
    graph = skeleton.graph
    source = model.graph
    graph.node.extend(source.node)
    graph.output.extend(source.output)
    graph.value_info.extend(source.value_info)
    input_names = {vi.name for vi in source.input}
    graph.input.extend(source.input)
    for tensor in source.initializer:
        count = 1
        for d in tensor.dims:
            count *= d
        small = count <= SKELETON_MAX_ELEMENTS and tensor.data_location != onnx.TensorProto.EXTERNAL
        if small:
            graph.initializer.append(tensor)
        elif tensor.name not in input_names:
            graph.input.append(
                onnx.helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims))
            )
    return skeleton


def collect_value_types(model: onnx.ModelProto) -> dict[str, onnx.TypeProto]:
    types: dict[str, onnx.TypeProto] = {}
    for tensor in model.graph.initializer:
        types[tensor.name] = onnx.helper.make_tensor_type_proto(tensor.data_type, list(tensor.dims))
    _known_types(model.graph, types)
    if not _missing_any(model.graph, types):
        return types
    try:
        inferred = shape_inference.infer_shapes(_skeleton(model), strict_mode=False, data_prop=True)
    except Exception:  # inference is a hint: an error here only leaves types unknown
        return types
    _known_types(inferred.graph, types)
    return types
