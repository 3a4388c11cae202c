"""Read a ``.tflite`` file into plain dataclasses.

Only what a reader of int8 CNNs needs: every tensor of the first subgraph (shape, dtype,
quantization, constant data) and every operator (builtin name, input/output tensor indices,
builtin options as a dict with snake_case keys and enum values as names).
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tt_host.errors import UsageError

try:  # The tflite-micro wheel carries the generated schema; nothing else is needed from it.
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as _schema
except ImportError:  # pragma: no cover - exercised only without the dev extras
    _schema = None


class TfliteError(UsageError):
    """The file is not a TFLite model this reader understands (bad input: exit code 2)."""


_TENSOR_TYPES = {
    "FLOAT32": np.float32,
    "INT32": np.int32,
    "UINT8": np.uint8,
    "INT64": np.int64,
    "INT16": np.int16,
    "INT8": np.int8,
    "BOOL": np.bool_,
}


def _enum_names(cls: type) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass(frozen=True)
class Quantization:
    """Affine quantization: ``real = scale * (q - zero_point)``, per channel along ``axis``."""

    scale: np.ndarray  #: float32, one entry (per tensor) or one per channel
    zero_point: np.ndarray  #: int64, same length as ``scale``
    axis: int  #: the quantized dimension (0 for OHWI conv weights, 3 for 1HWC depthwise)

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    quant: Quantization | None
    #: Constant contents reshaped to ``shape`` (weights, biases, pad amounts), else ``None``.
    data: np.ndarray | None = field(repr=False)


@dataclass(frozen=True)
class Operator:
    index: int
    op: str  #: builtin operator name, e.g. ``"CONV_2D"``
    inputs: tuple[int, ...]  #: tensor indices; -1 marks an omitted optional input
    outputs: tuple[int, ...]
    #: builtin options, snake_case keys; ``padding`` and ``fused_activation_function`` as names
    options: dict


@dataclass(frozen=True)
class Model:
    description: str
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


def _options(op_t) -> dict:
    opts = op_t.builtinOptions
    if opts is None:
        return {}
    out = {}
    for key, value in vars(opts).items():
        out[_snake(key)] = value
    if "padding" in out:
        out["padding"] = _enum_names(_schema.Padding)[out["padding"]]
    if "fused_activation_function" in out:
        out["fused_activation_function"] = _enum_names(_schema.ActivationFunctionType)[
            out["fused_activation_function"]
        ]
    return out


def load(source: str | Path | bytes, origin: str | Path | None = None) -> Model:
    """Parse a model from a path or from the file's bytes (first subgraph only); ``origin``
    names the file in error messages when ``source`` is its bytes."""
    if _schema is None:
        raise TfliteError("reading .tflite files needs the tflite-micro wheel (pip install tflite-micro)")
    what = str(origin if origin is not None else "the model" if isinstance(source, (bytes, bytearray)) else source)
    try:
        raw = source if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes()
    except OSError as exc:
        raise TfliteError(f"{what}: cannot read it ({exc.strerror or exc})") from exc
    if len(raw) < 8 or raw[4:8] != b"TFL3":
        raise TfliteError(f"{what}: not a TFLite flatbuffer (missing TFL3 identifier): expected an int8 .tflite model")
    try:
        return _parse(raw)
    except TfliteError as exc:
        raise TfliteError(f"{what}: {exc}") from exc
    except (struct.error, IndexError, KeyError, TypeError, ValueError, AttributeError, UnicodeDecodeError) as exc:
        # The flatbuffer's offsets point outside the file: cut short or corrupted on the way.
        raise TfliteError(f"{what}: a corrupt or truncated TFLite file ({len(raw):,} bytes; {exc})") from exc


def _parse(raw: bytes) -> Model:
    model_t = _schema.ModelT.InitFromPackedBuf(bytearray(raw), 0)
    if not model_t.subgraphs:
        raise TfliteError("model has no subgraph")
    graph = model_t.subgraphs[0]
    type_names = _enum_names(_schema.TensorType)
    op_names = _enum_names(_schema.BuiltinOperator)

    tensors = []
    for i, t in enumerate(graph.tensors):
        tname = type_names[t.type]
        if tname not in _TENSOR_TYPES:
            raise TfliteError(f"tensor {i}: unsupported type {tname}")
        dtype = np.dtype(_TENSOR_TYPES[tname])
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else ()))
        quant = None
        q = t.quantization
        if q is not None and q.scale is not None and len(q.scale) > 0:
            if q.zeroPoint is None or len(q.zeroPoint) != len(q.scale):
                raise TfliteError(f"tensor {i}: {len(q.scale)} quantization scales but "
                                  f"{0 if q.zeroPoint is None else len(q.zeroPoint)} zero points")
            if not all(math.isfinite(s) and s > 0 for s in q.scale):
                raise TfliteError(f"tensor {i}: a quantization scale that is not a positive number")
            quant = Quantization(
                scale=np.asarray(q.scale, dtype=np.float32),
                zero_point=np.asarray(q.zeroPoint, dtype=np.int64),
                axis=int(q.quantizedDimension),
            )
        data = None
        buf = model_t.buffers[t.buffer] if t.buffer < len(model_t.buffers) else None
        if buf is not None:
            if buf.data is not None and len(buf.data) > 0:
                blob = np.asarray(buf.data, dtype=np.uint8).tobytes()
            elif buf.offset > 1:
                blob = bytes(raw[buf.offset : buf.offset + buf.size])
            else:
                blob = None
            if blob is not None:
                data = np.frombuffer(blob, dtype=dtype).reshape(shape).copy()
        name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
        tensors.append(Tensor(i, name, shape, dtype, quant, data))

    operators = []
    for i, op_t in enumerate(graph.operators):
        code = model_t.operatorCodes[op_t.opcodeIndex]
        builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
        operators.append(
            Operator(
                index=i,
                op=op_names.get(builtin, f"BUILTIN_{builtin}"),
                inputs=tuple(int(x) for x in op_t.inputs),
                outputs=tuple(int(x) for x in op_t.outputs),
                options=_options(op_t),
            )
        )
    desc = model_t.description
    desc = desc.decode() if isinstance(desc, bytes) else (desc or "")
    inputs = tuple(int(x) for x in (graph.inputs if graph.inputs is not None else ()))
    outputs = tuple(int(x) for x in (graph.outputs if graph.outputs is not None else ()))
    _check_references(len(tensors), operators, inputs, outputs)
    return Model(desc, tensors, operators, inputs, outputs)


def _check_references(n_tensors: int, operators: list[Operator], inputs: tuple[int, ...],
                      outputs: tuple[int, ...]) -> None:
    """Every tensor index names a tensor of the subgraph (an operator's -1 omits an optional
    input): a flatbuffer whose indices point elsewhere is corrupt, whatever reads it next."""
    for what, indices, optional in (("the subgraph's inputs", inputs, False), ("the subgraph's outputs", outputs, False),
                                    *((f"operator {op.index} ({op.op})", op.inputs, True) for op in operators),
                                    *((f"operator {op.index} ({op.op}) outputs", op.outputs, False) for op in operators)):
        for t in indices:
            if not (0 <= t < n_tensors or (optional and t == -1)):
                raise TfliteError(f"{what}: tensor {t} does not exist (the subgraph has {n_tensors})")
