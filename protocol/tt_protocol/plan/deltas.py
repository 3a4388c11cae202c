"""The deltas file: what training changed, per tensor, as ``tt-host pull`` writes it and
``tt-host export`` merges it into a new ``.tflite``."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from construct import (
    Bytes,
    Const,
    Float32l,
    Int8ul,
    Int16ul,
    Int32sl,
    Int32ul,
    Padding,
    Struct,
)

from .format import (
    Check,
    DELTAS_MAGIC,
    DType,
    FORMAT_VERSION,
    MAX_CLASSES,
    MAX_TENSORS,
    PlanInvalid,
    SCHEME_NAME_BYTES,
    TensorKind,
    align,
    build_labels,
    name_bytes,
    parse_labels,
    seal,
)
from .blocks import _region
from .validate import _check_header


# -- deltas file ------------------------------------------------------------------------------

DeltasHeader = Struct(
    "magic" / Const(DELTAS_MAGIC),  #: b"TTDL"
    "version" / Int16ul,  #: FORMAT_VERSION
    "header_bytes" / Int16ul,  #: DELTAS_HEADER_BYTES
    "total_bytes" / Int32ul,
    "crc32" / Int32ul,  #: CRC-32 of bytes [CRC_START, total_bytes)
    "model_hash" / Bytes(32),  #: SHA-256 of the base .tflite the deltas apply to
    "plan_hash" / Bytes(32),  #: the plan they were trained with
    "scheme_name" / Bytes(SCHEME_NAME_BYTES),  #: NUL-padded ASCII
    "samples" / Int32ul,  #: training steps taken (informational)
    "n_records" / Int32ul,  #: DeltaRecords, <= MAX_TENSORS
    "n_classes" / Int16ul,  #: logits of the adapted model
    "head_replaced" / Int8ul,  #: 1: a HeadRecord follows the header, the classifier is new
    Padding(1),
    "records_offset" / Int32ul,  #: n_records DeltaRecords
    Padding(8),
)
DELTAS_HEADER_BYTES = DeltasHeader.sizeof()

#: The new classifier of a replaced head (after the deltas header): its quantization. Its
#: values travel as ABSOLUTE records. Followed by weight_scales float32[n_classes], then the
#: label table (n_labels LabelRecords and UTF-8 bytes, label_bytes in all).
HeadRecord = Struct(
    "n_classes" / Int32ul,
    "in_c" / Int32ul,  #: input features of the classifier
    "output_scale" / Float32l,  #: logits quantization (kept from the base model)
    "output_zp" / Int32sl,
    "n_labels" / Int16ul,
    Padding(2),
    "label_bytes" / Int32ul,
)


class DeltaFlag(enum.IntFlag):
    """Bits of a DeltaRecord's ``flags``."""

    ABSOLUTE = 1  #: values are the tensor's new contents, not differences (a replaced head)
    #: the base has no such tensor (an operator without a bias): ``tflite_tensor`` names the
    #: weights of the operator it belongs to, and the values are its contents (implies ABSOLUTE)
    ADDED = 2


DeltaRecord = Struct(
    "tflite_tensor" / Int32ul,  #: index of the tensor in the base .tflite
    "kind" / Int8ul,  #: TensorKind
    "dtype" / Int8ul,  #: DType of the values: INT8 or INT16 (weights), INT32 (biases)
    "flags" / Int8ul,  #: DeltaFlag
    Padding(1),
    "n_channels" / Int32ul,  #: 0: values cover the whole tensor; else the input channels listed
    "channels_offset" / Int32ul,  #: int16[n_channels] from the start of the file (0 if none)
    "count" / Int32ul,  #: values: the tensor's size, or out_c*taps*n_channels (taps*n depthwise)
    "values_offset" / Int32ul,  #: from the start of the file, ALIGN-aligned
)


# -- deltas files -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delta:
    """One tensor's change: ``values`` over the listed input ``channels`` (empty: whole tensor)."""

    tflite_tensor: int
    kind: TensorKind
    values: Any  #: numpy array: int8/int16 weight deltas, int32 bias deltas, or absolute values
    channels: tuple[int, ...] = ()
    absolute: bool = False
    added: bool = False  #: a bias the base lacks; ``tflite_tensor`` names the operator's weights


@dataclass(frozen=True)
class Head:
    """A replaced classifier's quantization and label names."""

    in_c: int
    weight_scales: Any  #: float32 [n_classes]
    output_scale: float
    output_zp: int
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Deltas:
    model_hash: bytes
    plan_hash: bytes
    scheme_name: str
    samples: int
    n_classes: int
    records: tuple[Delta, ...]
    head: Head | None = None


def _dtype_of(values) -> DType:
    import numpy as np

    kind = np.asarray(values).dtype
    return {np.dtype(np.int8): DType.INT8, np.dtype(np.int16): DType.INT16, np.dtype(np.int32): DType.INT32}[kind]


def _flags(r: Delta) -> DeltaFlag:
    return (DeltaFlag.ABSOLUTE if r.absolute or r.added else DeltaFlag(0)) | (DeltaFlag.ADDED if r.added else 0)


def build_deltas(d: Deltas) -> bytes:
    """Serialise a deltas file (see DeltasHeader, HeadRecord, DeltaRecord)."""
    import numpy as np

    head = b""
    if d.head is not None:
        labels = build_labels(list(d.head.labels)) if d.head.labels else b""
        head = HeadRecord.build(dict(n_classes=d.n_classes, in_c=d.head.in_c, output_scale=d.head.output_scale,
                                     output_zp=d.head.output_zp, n_labels=len(d.head.labels), label_bytes=len(labels)))
        head += np.asarray(d.head.weight_scales, "<f4").tobytes() + labels
        head += bytes(align(len(head)) - len(head))
    records_at = DELTAS_HEADER_BYTES + len(head)
    data_at = records_at + len(d.records) * DeltaRecord.sizeof()
    recs, data = b"", bytearray()
    for r in d.records:
        ch_off = 0
        if r.channels:
            ch_off = data_at + len(data)
            raw = np.asarray(r.channels, "<i2").tobytes()
            data += raw + bytes(align(len(raw)) - len(raw))
        dt = _dtype_of(r.values)
        v_off = data_at + len(data)
        raw = np.ascontiguousarray(r.values).astype(np.asarray(r.values).dtype.newbyteorder("<")).tobytes()
        data += raw + bytes(align(len(raw)) - len(raw))
        recs += DeltaRecord.build(dict(tflite_tensor=r.tflite_tensor, kind=r.kind, dtype=dt,
                                       flags=_flags(r), n_channels=len(r.channels),
                                       channels_offset=ch_off, count=int(np.asarray(r.values).size), values_offset=v_off))
    blob = bytearray(DeltasHeader.build(dict(
        version=FORMAT_VERSION, header_bytes=DELTAS_HEADER_BYTES, total_bytes=0, crc32=0, model_hash=d.model_hash,
        plan_hash=d.plan_hash, scheme_name=name_bytes(d.scheme_name), samples=d.samples, n_records=len(d.records),
        n_classes=d.n_classes, head_replaced=int(d.head is not None), records_offset=records_at)))
    blob += head + recs + data
    return bytes(seal(blob))


def parse_deltas(blob: bytes) -> Deltas:
    """Check and decode a deltas file; raises :class:`PlanInvalid`."""
    import numpy as np

    blob = bytes(blob)
    _check_header(blob, DELTAS_MAGIC, DELTAS_HEADER_BYTES, "deltas file")
    h = DeltasHeader.parse(blob)
    if h.n_records > MAX_TENSORS or not 1 <= h.n_classes <= MAX_CLASSES:
        raise PlanInvalid(Check.BAD_COUNT, f"{h.n_records} records, {h.n_classes} classes")
    head = None
    if h.head_replaced:
        hr = HeadRecord.parse(blob[DELTAS_HEADER_BYTES:])
        at = DELTAS_HEADER_BYTES + HeadRecord.sizeof()
        _region(Check.BAD_TABLE, "head record", at, 4 * hr.n_classes + hr.label_bytes, len(blob))
        scales = np.frombuffer(blob, "<f4", hr.n_classes, at).astype(np.float32)
        labels = parse_labels(blob[at + 4 * hr.n_classes:at + 4 * hr.n_classes + hr.label_bytes], hr.n_labels)
        head = Head(hr.in_c, scales, hr.output_scale, hr.output_zp, tuple(labels))
    _region(Check.BAD_TABLE, "delta records", h.records_offset, h.n_records * DeltaRecord.sizeof(), len(blob),
            DELTAS_HEADER_BYTES)
    records = []
    for i in range(h.n_records):
        r = DeltaRecord.parse(blob[h.records_offset + i * DeltaRecord.sizeof():])
        if r.dtype not in (DType.INT8, DType.INT16, DType.INT32) or r.kind not in (TensorKind.WEIGHTS, TensorKind.BIAS):
            raise PlanInvalid(Check.BAD_PARAMS, f"delta record {i}: dtype {r.dtype}, kind {r.kind}")
        size = DType(r.dtype).size
        _region(Check.BAD_TABLE, f"delta record {i} values", r.values_offset, r.count * size, len(blob))
        channels: tuple[int, ...] = ()
        if r.n_channels:
            _region(Check.BAD_TABLE, f"delta record {i} channels", r.channels_offset, 2 * r.n_channels, len(blob))
            channels = tuple(int(c) for c in np.frombuffer(blob, "<i2", r.n_channels, r.channels_offset))
        dt = {DType.INT8: np.int8, DType.INT16: "<i2", DType.INT32: "<i4"}[DType(r.dtype)]
        values = np.frombuffer(blob, dt, r.count, r.values_offset).copy()
        added = bool(r.flags & DeltaFlag.ADDED)
        if added and (r.kind != TensorKind.BIAS or r.n_channels):
            raise PlanInvalid(Check.BAD_PARAMS, f"delta record {i}: only a whole bias can be added")
        records.append(Delta(r.tflite_tensor, TensorKind(r.kind), values, channels,
                             added or bool(r.flags & DeltaFlag.ABSOLUTE), added))
    name = bytes(h.scheme_name).rstrip(b"\0").decode("ascii", "replace")
    return Deltas(h.model_hash, h.plan_hash, name, h.samples, h.n_classes, tuple(records), head)
