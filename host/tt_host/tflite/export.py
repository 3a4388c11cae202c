"""Merge a deltas file into its base ``.tflite``: the adapted model as standard int8 TFLite.

The base flatbuffer is unpacked with the schema's object API, the targeted weight and bias
buffers are patched (weights saturate to [-127, 127] and biases to int32, as on the device),
and the model is packed again; everything else (operators, quantization, other tensors) is
left as it was, so TFLite Micro runs the result like the base. A deltas file for a replaced
classifier rebuilds that layer: new weights ``(N, in)`` with the new per-class scales, new
biases at ``s_x * s_W``, and the class count propagated to the tensors after it (its output,
RESHAPE / SOFTMAX / DEQUANTIZE outputs and the RESHAPE target shape). The label names go
into the model description.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as S
from tt_protocol import plan as P

from tt_host.errors import UsageError

_NP = {S.TensorType.INT8: np.int8, S.TensorType.INT32: np.int32, S.TensorType.FLOAT32: np.float32}


class ExportError(UsageError):
    """The deltas do not fit the base model."""


def _buffer(model, raw: bytes, t) -> np.ndarray:
    buf = model.buffers[t.buffer]
    dtype = np.dtype(_NP[t.type]).newbyteorder("<")
    if buf.data is not None and len(buf.data) > 0:
        data = np.asarray(buf.data, np.uint8).tobytes()
    elif buf.offset > 1:
        data = raw[buf.offset:buf.offset + buf.size]
    else:
        raise ExportError(f"tensor {t.name!r} has no constant data")
    return np.frombuffer(data, dtype).reshape(list(t.shape)).copy()


def _set_buffer(model, t, values: np.ndarray) -> None:
    buf = model.buffers[t.buffer]
    buf.data = np.frombuffer(np.ascontiguousarray(values).astype(values.dtype.newbyteorder("<")).tobytes(), np.uint8)
    buf.offset, buf.size = 0, 0


def _apply(values: np.ndarray, delta: P.Delta, kind_dtype) -> np.ndarray:
    v = values.astype(np.int64)
    d = np.asarray(delta.values, np.int64)
    if delta.channels:
        sl = v[..., list(delta.channels)]
        if sl.size != d.size:
            raise ExportError(f"tensor {delta.tflite_tensor}: {d.size} deltas for a slice of {sl.size}")
        v[..., list(delta.channels)] = sl + d.reshape(sl.shape)
    else:
        if v.size != d.size:
            raise ExportError(f"tensor {delta.tflite_tensor}: {d.size} deltas for {v.size} values")
        v = v + d.reshape(v.shape)
    if kind_dtype == np.int8:
        return np.clip(v, -127, 127).astype(np.int8)
    return np.clip(v, -(2**31), 2**31 - 1).astype(np.int32)


def _replace_head(model, graph, deltas: P.Deltas, raw: bytes) -> None:
    head = deltas.head
    n = deltas.n_classes
    w_rec = next(r for r in deltas.records if r.absolute and r.kind == P.TensorKind.WEIGHTS)
    b_rec = next(r for r in deltas.records if r.absolute and r.kind == P.TensorKind.BIAS)
    op = next((o for o in graph.operators if len(o.inputs) > 1 and o.inputs[1] == w_rec.tflite_tensor), None)
    if op is None:
        raise ExportError(f"no operator reads tensor {w_rec.tflite_tensor}: not this model's classifier")
    x, w = (graph.tensors[i] for i in op.inputs[:2])
    b = _bias_of(model, graph, op, n)
    s_x = float(np.float32(x.quantization.scale[0]))
    scales = np.asarray(head.weight_scales, np.float32)
    w.shape = [n, head.in_c]
    _set_buffer(model, w, np.asarray(w_rec.values, np.int8).reshape(n, head.in_c))
    w.quantization.scale = [float(s) for s in scales]
    w.quantization.zeroPoint = [0] * n
    w.quantization.quantizedDimension = 0
    b.shape = [n]
    _set_buffer(model, b, np.asarray(b_rec.values, np.int32))
    b.quantization.scale = [float(np.float32(s_x) * s) for s in scales]
    b.quantization.zeroPoint = [0] * n
    # The class count flows to everything after the classifier.
    frontier = [op.outputs[0]]
    while frontier:
        t_index = frontier.pop()
        t = graph.tensors[t_index]
        t.shape = [*list(t.shape)[:-1], n]
        if getattr(t, "shapeSignature", None) is not None and len(t.shapeSignature):
            t.shapeSignature = [*list(t.shapeSignature)[:-1], n]
        for o in graph.operators:
            if t_index in list(o.inputs)[:1]:
                code = model.operatorCodes[o.opcodeIndex]
                builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
                if builtin == S.BuiltinOperator.RESHAPE:
                    if o.builtinOptions is not None and getattr(o.builtinOptions, "newShape", None) is not None:
                        o.builtinOptions.newShape = [*list(o.builtinOptions.newShape)[:-1], n]
                    if len(o.inputs) > 1 and o.inputs[1] >= 0:
                        st = graph.tensors[o.inputs[1]]
                        shape = _buffer(model, raw, st)
                        shape[-1] = n
                        _set_buffer(model, st, shape.astype(np.int32))
                elif builtin not in (S.BuiltinOperator.SOFTMAX, S.BuiltinOperator.DEQUANTIZE,
                                     S.BuiltinOperator.QUANTIZE):
                    raise ExportError(f"cannot propagate the new class count through operator {builtin}")
                frontier.extend(o.outputs)
    if head.labels:
        desc = model.description.decode() if isinstance(model.description, bytes) else (model.description or "")
        model.description = f"{desc}; adapted by tt: classes {','.join(head.labels)}".lstrip("; ")


def _bias_of(model, graph, op, n: int):
    """``op``'s bias tensor; one of ``n`` zeros quantized at ``s_x * s_W`` is added to the
    model first when the base has none (a converter drops an all-zero bias)."""
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        return graph.tensors[op.inputs[2]]
    x, w = (graph.tensors[i] for i in op.inputs[:2])
    s_w = np.broadcast_to(np.asarray(w.quantization.scale, np.float32), (n,))
    b = S.TensorT()
    b.name = (w.name.decode() if isinstance(w.name, bytes) else w.name or "") + "/bias"
    b.type, b.shape, b.buffer = S.TensorType.INT32, [n], len(model.buffers)
    b.quantization = S.QuantizationParametersT()
    b.quantization.scale = [float(np.float32(x.quantization.scale[0]) * s) for s in s_w]
    b.quantization.zeroPoint = [0] * n
    model.buffers.append(S.BufferT())
    graph.tensors.append(b)
    op.inputs = [*list(op.inputs[:2]), len(graph.tensors) - 1]
    _set_buffer(model, b, np.zeros(n, np.int32))
    return b


def _add_bias(model, graph, r: P.Delta) -> None:
    """An ADDED bias record: the operator reading weights ``r.tflite_tensor`` gets a bias."""
    op = next((o for o in graph.operators if len(o.inputs) > 1 and o.inputs[1] == r.tflite_tensor), None)
    if op is None or r.kind != P.TensorKind.BIAS:
        raise ExportError(f"an added bias for tensor {r.tflite_tensor}, which no operator reads as its weights")
    values = np.asarray(r.values, np.int32)
    _set_buffer(model, _bias_of(model, graph, op, values.size), values)


def export(base: bytes, deltas: bytes | P.Deltas) -> bytes:
    """The adapted model: ``base`` with ``deltas`` merged (see the module docstring)."""
    d = deltas if isinstance(deltas, P.Deltas) else P.parse_deltas(deltas)
    if hashlib.sha256(base).digest() != d.model_hash:
        raise ExportError("the deltas were trained from another model (model hash mismatch)")
    model = S.ModelT.InitFromPackedBuf(bytearray(base), 0)
    graph = model.subgraphs[0]
    for r in d.records:
        if r.added:
            _add_bias(model, graph, r)
        if r.absolute:
            continue
        if not 0 <= r.tflite_tensor < len(graph.tensors):
            raise ExportError(f"delta for tensor {r.tflite_tensor}, the model has {len(graph.tensors)}")
        t = graph.tensors[r.tflite_tensor]
        want = S.TensorType.INT8 if r.kind == P.TensorKind.WEIGHTS else S.TensorType.INT32
        if t.type != want:
            raise ExportError(f"tensor {r.tflite_tensor} ({t.name!r}) is not the {r.kind.name.lower()} the delta targets")
        _set_buffer(model, t, _apply(_buffer(model, base, t), r, _NP[want]))
    if d.head is not None:
        _replace_head(model, graph, d, base)
    builder = flatbuffers.Builder(len(base) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def export_file(base: str | Path, deltas: str | Path, out: str | Path) -> Path:
    """``tt-host export``: read both files, write the adapted model, return its path."""
    out = Path(out)
    try:
        data = export(Path(base).read_bytes(), Path(deltas).read_bytes())
    except P.PlanInvalid as exc:
        raise ExportError(f"{deltas}: not a valid deltas file ({exc})") from exc
    out.write_bytes(data)
    return out
