"""Load-time rewrites of an int4 decoder graph, applied in memory before onnxruntime sees it.

Nothing is written to disk and the weights are not read: the graph (a few hundred KB) is
rewritten and handed to onnxruntime as bytes, with its external data resolved to the real files
(which memory.py then maps once for onnxruntime).

- **Logits for the last positions only.** The builder's graph computes logits for every prompt
  position (512 x 151,936 floats and ~15% of a 1.5B model's prefill FLOPs); a Slice before the
  lm_head keeps the last ones, from the new input ``LOGITS_FROM`` (``[-1]``: the last, all
  generation needs; ``[-k]``: the last k, prompt lookup's check of k - 1 guessed tokens). Their
  hidden states (the final norm's output, what llama.cpp calls the embedding) become an output of
  their own, ``HIDDEN_OUTPUT``, for the safety probe.
- **No folded copy of a tied embedding.** With tied embeddings the builder feeds the lm_head's int4
  weight through a Reshape into ``GatherBlockQuantized``. onnxruntime constant-folds that Reshape
  into a new in-memory initializer: a second copy of the lm_head (111 MiB for Qwen2.5-1.5B at
  block 32). Declaring the reshaped tensor as its own external initializer over the *same file
  bytes* removes the Reshape: the gather reads the rows it needs straight from the mapped file.

Each rewrite is skipped when the graph does not have the expected shape; the original graph is
always correct, only slower or larger.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..model import ModelInfo

__all__ = [
    "HIDDEN_OUTPUT",
    "LOGITS_FROM",
    "alias_reshaped_weights",
    "prepare_graph",
    "resolve_external_data",
    "slice_last_position",
]

HIDDEN_OUTPUT = "edgeqwen_last_hidden_state"  # (batch, k, hidden): the last k positions' final-norm output
LOGITS_FROM = "edgeqwen_logits_from"  # int64 [1]: -k, the positions whose logits come out


def prepare_graph(info: ModelInfo) -> tuple[Any, Path] | None:
    """The rewritten ``onnx.ModelProto`` plus the one folder its external weights resolve to, or
    None (load the original file) if ``onnx`` is missing, the graph cannot be read, or its weights
    are spread over several folders. Each rewrite is skipped where the graph does not match it."""
    try:
        import onnx
    except ImportError:
        return None
    try:
        model = onnx.load(str(info.onnx_file), load_external_data=False)
        graph = model.graph
        slice_last_position(graph, info.output_names.get("logits", "logits"))
        alias_reshaped_weights(graph)
        folder = resolve_external_data(graph, info.onnx_file.parent)
    except Exception:  # an unexpected graph: the original one is correct
        return None
    return (model, folder) if folder is not None else None


def slice_last_position(graph: Any, logits: str) -> bool:
    """Insert ``Slice(hidden, LOGITS_FROM:)`` before the MatMul that produces ``logits``; False if none."""
    from onnx import TensorProto, helper, numpy_helper

    producers = {o: n for n in graph.node for o in n.output}
    node = producers.get(logits)
    while node is not None and node.op_type not in ("MatMulNBits", "MatMul", "Gemm"):
        node = producers.get(node.input[0]) if node.input else None
    if node is None:
        return False
    hidden = node.input[0]
    sliced = hidden + "/last_position"
    consts = {"last_ends": [2**63 - 1], "last_axes": [1]}
    for name, value in consts.items():
        graph.initializer.append(numpy_helper.from_array(np.array(value, dtype=np.int64), name))
    graph.input.append(helper.make_tensor_value_info(LOGITS_FROM, TensorProto.INT64, [1]))
    slice_node = helper.make_node(
        "Slice", [hidden, LOGITS_FROM, "last_ends", "last_axes"], [sliced], name="LastPositions"
    )
    graph.node.insert(list(graph.node).index(node), slice_node)
    node.input[0] = sliced
    elem_type = next((o.type.tensor_type.elem_type for o in graph.output if o.name == logits), TensorProto.FLOAT)
    for output in graph.output:
        if output.name == logits and len(output.type.tensor_type.shape.dim) == 3:
            output.type.tensor_type.shape.dim[1].dim_param = "logit_positions"
    width = next((a.i for a in node.attribute if a.name == "K"), None)  # MatMulNBits: the hidden size
    if width is None and len(node.input) > 1:  # MatMul / Gemm: a (hidden, vocab) weight
        dims = next((list(t.dims) for t in graph.initializer if t.name == node.input[1]), [])
        width = dims[0] if len(dims) == 2 else None
    graph.node.append(helper.make_node("Identity", [sliced], [HIDDEN_OUTPUT], name="LastHiddenState"))
    graph.output.append(
        helper.make_tensor_value_info(HIDDEN_OUTPUT, elem_type, ["batch_size", "logit_positions", width])
    )
    return True


def _constant_shapes(graph: Any) -> dict[str, list[int]]:
    from onnx import TensorProto, numpy_helper

    shapes = {
        n.output[0]: numpy_helper.to_array(n.attribute[0].t).tolist()
        for n in graph.node
        if n.op_type == "Constant" and len(n.attribute) == 1 and n.attribute[0].name == "value"
    }
    for t in graph.initializer:
        if t.data_type == TensorProto.INT64 and not t.external_data and len(t.dims) == 1:
            shapes[t.name] = numpy_helper.to_array(t).tolist()
    return shapes


def alias_reshaped_weights(graph: Any) -> int:
    """Replace ``Reshape(external initializer, constant shape)`` by an initializer with the new
    shape over the same external bytes. Returns how many Reshapes were removed."""
    inits = {t.name: t for t in graph.initializer}
    shapes = _constant_shapes(graph)
    removed = 0
    for node in list(graph.node):
        if node.op_type != "Reshape" or len(node.input) != 2:
            continue
        source, shape = inits.get(node.input[0]), shapes.get(node.input[1])
        if source is None or not source.external_data or not isinstance(shape, list):
            continue
        if any(d <= 0 for d in shape) or int(np.prod(shape)) != int(np.prod(source.dims)):
            continue  # 0 / -1 dims or a size mismatch: leave it to onnxruntime
        alias = graph.initializer.add()
        alias.CopyFrom(source)
        alias.name = node.output[0]
        del alias.dims[:]
        alias.dims.extend(int(d) for d in shape)
        graph.node.remove(node)
        removed += 1
    return removed


def resolve_external_data(graph: Any, folder: Path) -> Path | None:
    """Point every external location at the real file (a hub cache keeps them as links into
    ``blobs/``); return the one folder they live in, or None if they are spread over several."""
    folders = set()
    for tensor in graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                real = (folder / entry.value).resolve()
                folders.add(real.parent)
                entry.value = real.name
    if len(folders) > 1:
        return None
    return folders.pop() if folders else folder
