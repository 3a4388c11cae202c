"""Deltas files from trained parameters: what ``tt-host pull`` writes and ``export`` merges.

The device (or the simulation) holds the trained slices and biases in its arena; against the
factory values of the weight blob they become per-tensor deltas in the format of
``tt_protocol.plan`` (``Deltas``): int8 when every weight delta fits, int16 otherwise (a
weight can move by up to 254 steps), int32 for biases. A replaced classifier travels whole
(absolute values) with its weight scales and label names, since the base model has no such
tensors.
"""

from __future__ import annotations

import numpy as np
from tt_protocol import plan as P

from tt_host.compiler.simulate import current_weights, decode, gather_slice


def _narrow(delta: np.ndarray) -> np.ndarray:
    d = np.asarray(delta, np.int64)
    if d.size == 0 or (d.min() >= -128 and d.max() <= 127):
        return d.astype(np.int8)
    return d.astype(np.int16)


def weight_records(weights: bytes) -> list:
    h = P.validate_weights(weights)
    return [P.TensorRecord.parse(weights[h.table_offset + i * P.TensorRecord.sizeof():]) for i in range(h.n_tensors)]


def parameters_from_image(plan: bytes, image: bytes) -> dict[tuple[int, str], np.ndarray]:
    """Decode the device's parameter image (``tt_executor_params_read``) into what :func:`build`
    takes: ``(layer, "WEIGHTS"|"BIAS") -> values``, like
    :meth:`tt_host.compiler.simulate.Machine.parameters`.

    The image is the output buffers of the plan's LOAD_WEIGHTS / LOAD_BIAS ops concatenated in
    op-table order (int8 slices, little-endian int32 biases), then the 4-byte PRNG counter of
    the stochastic rounding (see :func:`image_prng_counter`), which is not a parameter."""
    v = P.validate(plan)
    out: dict[tuple[int, str], np.ndarray] = {}
    at = 0
    for op in v.ops:
        if op.kind not in (P.OpKind.LOAD_WEIGHTS, P.OpKind.LOAD_BIAS):
            continue
        size = v.buffers[op.outs[0]].size
        if at + size > len(image):
            raise ValueError(f"parameter image of {len(image)} bytes is too short for this plan")
        if op.kind == P.OpKind.LOAD_WEIGHTS:
            out[(op.layer, "WEIGHTS")] = np.frombuffer(image, np.int8, size, at).copy()
        else:
            out[(op.layer, "BIAS")] = np.frombuffer(image, "<i4", size // 4, at).astype(np.int32)
        at += size
    if len(image) != at + 4:
        raise ValueError(f"parameter image of {len(image)} bytes, this plan's has {at + 4}")
    return out


def image_prng_counter(image: bytes) -> int:
    """The stochastic-rounding PRNG counter stored at the end of a parameter image."""
    return int.from_bytes(image[-4:], "little")


def build(plan: bytes, weights: bytes, parameters: dict[tuple[int, str], np.ndarray], samples: int = 0) -> bytes:
    """A deltas file from ``parameters`` (``(layer, "WEIGHTS"|"BIAS") -> current values``, as
    :meth:`tt_host.compiler.simulate.Machine.parameters` returns them) of a plan."""
    d = decode(plan, weights)
    h = d.header
    recs = weight_records(weights)
    tensor = {(r.layer, P.TensorKind(r.kind).name): r for r in recs}
    layers = {op.layer: d.lowered.params[op.params] for op in d.lowered.ops if op.kind in (P.OpKind.LOAD_WEIGHTS, P.OpKind.LOAD_BIAS)}
    head_layer = next((r.layer for r in recs if r.replaced), None)
    out: list[P.Delta] = []
    head = None
    for layer, p in sorted(layers.items()):
        if layer == head_layer:
            continue
        if (layer, "WEIGHTS") in parameters:
            cur = np.asarray(parameters[(layer, "WEIGHTS")], np.int64)
            delta = _narrow(cur - gather_slice(p, p.weights).ravel().astype(np.int64))
            whole = len(p.channels) == p.geom.in_c
            out.append(P.Delta(tensor[(layer, "WEIGHTS")].tflite_tensor, P.TensorKind.WEIGHTS, delta,
                               () if whole else tuple(p.channels)))
        if (layer, "BIAS") in parameters:
            cur = np.asarray(parameters[(layer, "BIAS")], np.int64)
            if tensor[(layer, "BIAS")].tflite_tensor == P.NONE32:  # the base has no bias: add it
                out.append(P.Delta(tensor[(layer, "WEIGHTS")].tflite_tensor, P.TensorKind.BIAS,
                                   cur.astype(np.int32), added=True))
                continue
            delta = (cur - p.bias.astype(np.int64)).astype(np.int32)
            out.append(P.Delta(tensor[(layer, "BIAS")].tflite_tensor, P.TensorKind.BIAS, delta))
    if head_layer is not None:
        wr, br, sr = (tensor[(head_layer, k)] for k in ("WEIGHTS", "BIAS", "WEIGHT_SCALES"))
        factory_w = np.frombuffer(weights, np.int8, wr.bytes, wr.offset).reshape(wr.shape[0], wr.shape[1])
        factory_b = np.frombuffer(weights, "<i4", br.bytes // 4, br.offset).astype(np.int32)
        p = layers.get(head_layer)
        w = factory_w
        if p is not None and (head_layer, "WEIGHTS") in parameters:
            w = current_weights(p, parameters[(head_layer, "WEIGHTS")])
        b = parameters.get((head_layer, "BIAS"), factory_b)
        out.append(P.Delta(wr.tflite_tensor, P.TensorKind.WEIGHTS, np.asarray(w, np.int8).ravel(), (), True))
        out.append(P.Delta(br.tflite_tensor, P.TensorKind.BIAS, np.asarray(b, np.int32), (), True))
        scales = np.frombuffer(weights, "<f4", sr.bytes // 4, sr.offset).astype(np.float32)
        loss = next(d.lowered.params[op.params] for op in d.lowered.ops if op.kind == P.OpKind.LOSS)
        head = P.Head(int(wr.shape[1]), scales, float(loss.scale), int(loss.zero_point), tuple(d.labels))
    name = bytes(h.scheme_name).rstrip(b"\0").decode("ascii", "replace")
    return P.build_deltas(P.Deltas(h.model_hash, h.plan_hash, name, samples, h.n_classes, tuple(out), head))
