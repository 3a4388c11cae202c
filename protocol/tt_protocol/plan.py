"""Training plans, weight blobs and deltas files: the bytes the device trains from.

A compiled training step travels as two blobs, written by ``tt-host compile`` and loaded by
the firmware's generic executor (DESIGN.md, "Data flow"):

* the **plan blob** (``plan.bin``): a header, a buffer table (every arena region with its
  fixed offset), an op table (fixed-size records, executed in order) and a parameter pool
  (geometry, quantization, channel lists per layer), plus the class label names;
* the **weight blob** (``weights.bin``): every int8 weight and int32 bias tensor of the
  model, the factory values. The device reads frozen weights straight from it in flash;
  trainable slices are copied into the arena by the plan's load ops.

The third format, the **deltas file**, is what ``tt-host pull`` writes and ``tt-host export``
merges into a new ``.tflite``: what training changed, per tensor.

Rules shared by all three, so that a C loader can check every byte before it trusts any:

* little-endian, every table and array 4-byte aligned, no pointers: references are byte
  offsets from the start of the blob (tables, weights) or of the arena (buffers);
* a fixed-size header with a magic, a format version, the total length and a CRC-32 (the
  zlib CRC of :func:`tt_protocol.frame.crc32`) over every byte after the CRC field;
* bounded counts (:data:`MAX_BUFFERS`, :data:`MAX_OPS`, ...);
* deterministic: the same model, scheme and options give the same bytes (no timestamps,
  no dict-order or float-formatting dependence).

:func:`validate` performs exactly the checks the firmware loader performs, in the same order,
and raises :class:`PlanInvalid` with a :class:`Check` code (the device reports that code as
the detail of its error status). :func:`corruptions` derives a corpus of broken blobs, each
with the check that must reject it, from any valid plan; the C loader's tests reuse it.

Op semantics (what each kind reads and writes) are in :data:`SIGNATURES`; the numpy executor
``tt_host.compiler.simulate`` is their reference implementation.
"""

from __future__ import annotations

import enum
import hashlib
import struct
from dataclasses import dataclass
from typing import Any

from construct import (
    Array,
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

from .errors import MalformedInput
from .frame import crc32

# -- limits and constants ---------------------------------------------------------------------

PLAN_MAGIC = b"TTPL"
WEIGHTS_MAGIC = b"TTWB"
DELTAS_MAGIC = b"TTDL"
#: Format version of all three blobs; a loader refuses any other. Version 2: the classifier's
#: own learning rate, per-layer bounds on a step's update, the divergence guard.
FORMAT_VERSION = 2
#: Alignment of every table, array, tensor and arena buffer.
ALIGN = 4
#: "No buffer" in a 16-bit buffer slot; "no block" in a 32-bit offset.
NONE16 = 0xFFFF
NONE32 = 0xFFFFFFFF
#: Bytes covered by neither the CRC nor the hash: magic, version, header size, total length, CRC.
CRC_START = 16

MAX_BUFFERS = 4096
MAX_OPS = 8192
MAX_CLASSES = 4096
MAX_CHANNELS = 8192  #: any channel count or tensor dimension
MAX_LABEL_BYTES = 64  #: UTF-8 bytes of one label name
MAX_TENSORS = 1024  #: tensors in a weight blob or records in a deltas file
SCHEME_NAME_BYTES = 32


def align(n: int, a: int = ALIGN) -> int:
    return -(-n // a) * a


# -- enums ------------------------------------------------------------------------------------


class Phase(enum.IntEnum):
    """When an op runs: once after the plan is loaded, or in every training step."""

    LOAD = 0  #: copy trainable parameters from the weight blob into the arena
    FORWARD = 1
    BACKWARD = 2  #: loss, gradients and updates


class DType(enum.IntEnum):
    """Element type of an arena buffer."""

    INT8 = 1  #: activations, saved inputs, trainable weight slices
    INT16 = 2  #: activation gradients (one power-of-two exponent per buffer)
    INT32 = 3  #: accumulators, trainable biases, parameter gradients (with an exponent)
    MASK = 4  #: 1-bit clamp masks, LSB first (``tt/kernels/mask.h``)
    BYTES = 5  #: kernel scratch

    @property
    def size(self) -> int:
        return {DType.INT16: 2, DType.INT32: 4}.get(self, 1)


class BufferKind(enum.IntEnum):
    """What a buffer holds (reports and sanity checks; the executor only needs the dtype)."""

    INPUT = 0
    ACTIVATION = 1
    ACCUMULATOR = 2
    SAVED = 3
    MASK = 4
    GRAD = 5
    PARAM_GRAD = 6
    PARAM = 7
    SCRATCH = 8


class OpKind(enum.IntEnum):
    """One kernel invocation. Slots, parameters and phase of each: :data:`SIGNATURES`."""

    LOAD_WEIGHTS = 0x01  #: gather the trained input channels of a layer's weights into the arena
    LOAD_BIAS = 0x02  #: copy a layer's int32 biases into the arena
    INPUT = 0x03  #: the executor writes the sample (int8, the model's input) here
    CONV2D = 0x10
    PW_CONV2D = 0x11
    DW_CONV2D = 0x12
    FC = 0x13
    ADD = 0x14
    AVGPOOL = 0x15
    SAVE = 0x16  #: gather the trained input channels of an activation for a weight gradient
    FUSED_BLOCK = 0x17  #: frozen inverted bottleneck in one kernel (tt_irb_fwd_s8)
    LOSS = 0x20  #: softmax cross-entropy against the sample's label
    MASK_BWD = 0x21
    CONV2D_BWD_INPUT = 0x22
    PW_CONV2D_BWD_INPUT = 0x23
    DW_CONV2D_BWD_INPUT = 0x24
    FC_BWD_INPUT = 0x25
    AVGPOOL_BWD_INPUT = 0x26
    GRAD_ADD = 0x27  #: grad += other (``tt_add_bwd_input_s16``)
    GRAD_COPY = 0x28
    BIAS_GRAD = 0x30
    BIAS_UPDATE = 0x31
    WEIGHT_GRAD = 0x32
    WEIGHT_UPDATE = 0x33
    BIAS_GRAD_UPDATE = 0x34  #: bias gradient and SGD step fused (no int32 gradient buffer)
    WEIGHT_GRAD_UPDATE = 0x35  #: weight gradient and SGD step per output channel, fused


class ParamType(enum.IntEnum):
    """Type of a parameter-pool block (first field of every block)."""

    LAYER = 1
    ADD = 2
    POOL = 3
    FUSED = 4
    LOSS = 5


class LayerKind(enum.IntEnum):
    """The kernel family of a LAYER block."""

    CONV2D = 1
    PW_CONV2D = 2
    DW_CONV2D = 3
    FC = 4


class LayerFlag(enum.IntFlag):
    """Bits of a LAYER block's ``flags``."""

    BIAS_TRAINED = 1  #: biases live in the arena (LOAD_BIAS) and qas_b_* arrays follow
    GRAD_QUANT = 2  #: the gradient flows back through the layer: grad_* arrays follow
    HEAD = 4  #: the classifier: its parameters train at the header's head rate


class OpFlag(enum.IntFlag):
    """Bits of an op record's ``flags``."""

    #: WEIGHT_GRAD(_UPDATE): the input is a SAVE'd compact copy ``[H][W][n_channels]`` (channel
    #: j holds input channel ``channels[j]``) instead of the whole activation
    COMPACT_INPUT = 1
    #: INPUT: the sample streams in. The input buffer holds whole rows (at least the fused
    #: block's tt_irb_fwd_s8_rows_span(), the executor checks), the op after INPUT is the
    #: FUSED_BLOCK reading it, run piecewise as rows arrive (tt_irb_fwd_s8_rows()), and no
    #: other op reads the buffer
    STREAMED = 2
    #: a forward layer op (CONV2D, PW_CONV2D, DW_CONV2D, FC, ADD) run again in the BACKWARD
    #: phase to rebuild the masks of a block from its kept input, before anything in the block
    #: is updated (so its outputs are the forward's)
    RECOMPUTE = 4


class TensorKind(enum.IntEnum):
    """A weight-blob tensor or a deltas record: weights or biases of a layer."""

    WEIGHTS = 1
    BIAS = 2
    WEIGHT_SCALES = 3  #: float32 per-output-channel weight scales of a replaced classifier

class Check(enum.IntEnum):
    """Why a loader refused a blob (the detail of the device's error status)."""

    OK = 0
    TRUNCATED = 1  #: shorter than its header
    BAD_MAGIC = 2
    BAD_VERSION = 3
    BAD_LENGTH = 4  #: header size or total length disagree with the bytes received
    BAD_CRC = 5
    BAD_COUNT = 6  #: a count over its limit (buffers, ops, classes, labels)
    BAD_TABLE = 7  #: a table or the parameter pool outside the blob or misaligned
    ARENA_TOO_SMALL = 8  #: the plan needs more arena than the device has
    BAD_BUFFER = 9  #: a buffer outside the arena, misaligned, or of an unknown type
    BAD_WEIGHTS = 10  #: weight blob for another model/plan, or a reference outside it
    BAD_PARAMS = 11  #: a parameter block of the wrong type, size or content
    BAD_OP_KIND = 12
    BAD_OP_ORDER = 13  #: phases not in order, or not exactly one INPUT and one LOSS
    BAD_BUFFER_ID = 14  #: a slot out of range, a required slot empty or a forbidden one set
    BAD_SHAPE = 15  #: a buffer's size or type disagrees with the op's geometry
    BAD_LABELS = 16
    BAD_OPTIMIZER = 17  #: learning rate or momentum outside what the executor supports


class PlanInvalid(MalformedInput):
    """A blob that a loader must refuse; ``check`` says which rule it broke."""

    def __init__(self, check: Check, message: str) -> None:
        super().__init__(f"{check.name}: {message}")
        self.check = check


# -- plan blob --------------------------------------------------------------------------------

PlanHeader = Struct(
    "magic" / Const(PLAN_MAGIC),  #: b"TTPL"
    "version" / Int16ul,  #: FORMAT_VERSION
    "header_bytes" / Int16ul,  #: size of this header (PLAN_HEADER_BYTES)
    "total_bytes" / Int32ul,  #: the whole blob, header included
    "crc32" / Int32ul,  #: CRC-32 of bytes [CRC_START, total_bytes)
    "model_hash" / Bytes(32),  #: SHA-256 of the base .tflite the plan was compiled from
    #: SHA-256 of this blob with crc32 and plan_hash zeroed, followed by the weight blob: the
    #: plan's identity (the device reports it in INFO; deltas files carry it)
    "plan_hash" / Bytes(32),
    "weights_bytes" / Int32ul,  #: total_bytes of the weight blob this plan reads
    "weights_crc32" / Int32ul,  #: crc32 field of that weight blob
    "arena_bytes" / Int32ul,  #: arena the plan needs: every buffer and the exponent table
    #: arena offset of the exponent table: one int32 per gradient buffer (buffers 0 ..
    #: n_exp_slots-1), the power-of-two exponent of its current contents
    "exp_table_offset" / Int32ul,
    "n_exp_slots" / Int16ul,  #: gradient buffers (ids below this hold int16/int32 gradients)
    "n_buffers" / Int16ul,  #: entries of the buffer table, <= MAX_BUFFERS
    "n_ops" / Int16ul,  #: entries of the op table, <= MAX_OPS
    "n_classes" / Int16ul,  #: logits of the model, 1..MAX_CLASSES
    "n_labels" / Int16ul,  #: label names: 0 (none known) or n_classes
    "input_buffer" / Int16ul,  #: the buffer the INPUT op writes (the sample)
    "buffer_table_offset" / Int32ul,  #: n_buffers BufferRecords
    "op_table_offset" / Int32ul,  #: n_ops OpRecords
    "param_pool_offset" / Int32ul,  #: parameter blocks, referenced by byte offset into the pool
    "param_pool_bytes" / Int32ul,
    "label_table_offset" / Int32ul,  #: n_labels LabelRecords, then the UTF-8 bytes
    "label_bytes" / Int32ul,  #: records and strings together
    "input_h" / Int16ul,  #: sample shape (int8 NHWC, batch 1): h * w * c bytes per sample
    "input_w" / Int16ul,
    "input_c" / Int16ul,
    "logits_buffer" / Int16ul,  #: the int8 logits the LOSS op reads
    "input_scale" / Float32l,  #: sample quantization: real = scale * (q - zero_point)
    "input_zp" / Int32sl,
    "seed" / Int32ul,  #: PRNG seed of the stochastic rounding (tt_rng_t.seed); counter starts at 0
    "lr_multiplier" / Int32sl,  #: learning rate as a Q31 pair (tt_sgd_t), multiplier in [2^30, 2^31)
    "lr_shift" / Int32sl,  #: its exponent, [-31, 0]
    "momentum_q15" / Int32sl,  #: 0 in this version (no velocity buffers are planned)
    "lr" / Float32l,  #: the learning rate the pair represents (informational)
    "trainable_params" / Int32ul,  #: trained int8 weights + int32 biases (informational)
    "scheme_name" / Bytes(SCHEME_NAME_BYTES),  #: NUL-padded ASCII, informational
    #: learning rate of the layers flagged HEAD (the classifier) as a Q31 pair, same ranges as
    #: lr_multiplier / lr_shift
    "head_lr_multiplier" / Int32sl,
    "head_lr_shift" / Int32sl,
    "head_lr" / Float32l,  #: the head's learning rate the pair represents (informational)
    #: the divergence guard: after this many consecutive training samples with identical logits
    #: over more than one label (the output no longer depends on the input), the device stops
    #: training (DIVERGED); 0 = never
    "diverge_after" / Int16ul,
    Padding(50),  #: reserved, zero
)
PLAN_HEADER_BYTES = PlanHeader.sizeof()

BufferRecord = Struct(
    "offset" / Int32ul,  #: byte offset in the arena, ALIGN-aligned
    "size" / Int32ul,  #: bytes, > 0, a multiple of the element size
    "dtype" / Int8ul,  #: DType
    "kind" / Int8ul,  #: BufferKind
    "layer" / Int16ul,  #: the IR layer it belongs to, NONE16 if none (informational)
)

OpRecord = Struct(
    "kind" / Int8ul,  #: OpKind
    "phase" / Int8ul,  #: Phase; non-decreasing along the table
    "flags" / Int8ul,  #: OpFlag
    Padding(1),
    "layer" / Int16ul,  #: IR layer index, NONE16 if none (informational, for traces)
    "scratch" / Int16ul,  #: scratch buffer (DType.BYTES) or NONE16
    "ins" / Array(4, Int16ul),  #: input buffer ids by role (SIGNATURES), NONE16 when absent
    "outs" / Array(3, Int16ul),  #: output buffer ids by role, NONE16 when absent
    Padding(2),
    "params" / Int32ul,  #: offset of the op's block in the parameter pool, NONE32 if none
)

LabelRecord = Struct(
    "offset" / Int16ul,  #: from the start of the label area (after the records)
    "length" / Int16ul,  #: UTF-8 bytes, 1..MAX_LABEL_BYTES
)

#: Common head of every parameter-pool block.
BlockHeader = Struct(
    "type" / Int16ul,  #: ParamType
    "kind" / Int16ul,  #: LayerKind for LAYER blocks, else 0
    "bytes" / Int32ul,  #: the whole block, header and arrays included, ALIGN-aligned
)

Geometry = Struct(*(name / Int32sl for name in (
    "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "kernel_h", "kernel_w",
    "stride_h", "stride_w", "pad_top", "pad_left", "pad_bottom", "pad_right")))
"""``tt_conv_geom_t``; a fully connected layer is 1x1 spatial with a 1x1 kernel."""

#: A parameterised layer (conv, pointwise, depthwise, FC). Arrays follow the fixed part, each
#: int32[out_c] unless said otherwise, in this order: multiplier, shift (forward
#: requantization); grad_multiplier, grad_shift (tt_grad_quant_t ratios, if GRAD_QUANT);
#: qas_w_multiplier, qas_w_shift (s_x / s_W, if n_channels > 0; a depthwise slice element
#: of channel j uses entry channels[j]); qas_b_multiplier, qas_b_shift
#: (1 / (s_W s_x), if BIAS_TRAINED); channels (int16[n_channels], padded to ALIGN).
LayerBlock = Struct(
    "header" / BlockHeader,
    "geom" / Geometry,
    "input_zp" / Int32sl,
    "output_zp" / Int32sl,
    "act_min" / Int32sl,  #: output clamp; also the mask's bounds
    "act_max" / Int32sl,
    "input_scale" / Float32l,  #: informational (the integers above are what runs)
    "output_scale" / Float32l,
    "weights_offset" / Int32ul,  #: factory weights in the weight blob: OHWI, 1HWC (depthwise) or [out][in]
    "weights_bytes" / Int32ul,
    "bias_offset" / Int32ul,  #: factory int32 biases in the weight blob, out_c entries
    "bias_bytes" / Int32ul,
    "grad_scale_multiplier" / Int32sl,  #: tt_grad_quant_t S (if GRAD_QUANT, else 0)
    "grad_scale_shift" / Int32sl,
    "n_channels" / Int32ul,  #: trained input channels of the weights, 0 = weights frozen
    "flags" / Int32ul,  #: LayerFlag
    #: bound on one sample's step of a trained weight, in Q16 int8 quantization steps: the
    #: fixed-point step is clamped to [-max, max] before stochastic rounding; 0 iff n_channels == 0
    "weight_step_max" / Int32sl,
    #: the same for the int32 biases, in whole bias quantization steps (s_W[o] * s_x); 0 iff the
    #: biases do not train
    "bias_step_max" / Int32sl,
)
LAYER_FIXED_BYTES = LayerBlock.sizeof()

AddBlock = Struct(
    "header" / BlockHeader,
    "numel" / Int32ul,  #: elements of each input and of the output
    *(name / Int32sl for name in (
        "input1_zp", "input2_zp", "output_zp", "left_shift", "input1_multiplier", "input1_shift",
        "input2_multiplier", "input2_shift", "output_multiplier", "output_shift", "act_min", "act_max")),
)

PoolBlock = Struct(
    "header" / BlockHeader,
    "geom" / Geometry,  #: out_c == in_c
    "act_min" / Int32sl,
    "act_max" / Int32sl,
)

FusedBlock = Struct(
    "header" / BlockHeader,
    #: LAYER block of the expansion layer, NONE32 if the block has none: a pointwise conv, or a
    #: general conv (CONV2D: the stem in front of a block without its own expansion)
    "pw1" / Int32ul,
    "dw" / Int32ul,  #: LAYER block of the depthwise conv
    "pw2" / Int32ul,  #: LAYER block of the projection pointwise conv
    "add" / Int32ul,  #: ADD block of the residual, NONE32 if none
    "residual_input" / Int32ul,  #: which ADD input the block's input is: 1 or 2 (0 without ADD)
)

LossBlock = Struct(
    "header" / BlockHeader,
    "n_classes" / Int32ul,
    "scale" / Float32l,  #: tt_logit_quant_t
    "zero_point" / Int32sl,
)

BLOCKS = {ParamType.LAYER: LayerBlock, ParamType.ADD: AddBlock, ParamType.POOL: PoolBlock,
          ParamType.FUSED: FusedBlock, ParamType.LOSS: LossBlock}


def layer_array_counts(kind: int, out_c: int, n_channels: int, flags: int) -> list[tuple[str, int, int]]:
    """``(name, count, element bytes)`` of a LAYER block's arrays, in order."""
    arrays = [("multiplier", out_c, 4), ("shift", out_c, 4)]
    if flags & LayerFlag.GRAD_QUANT:
        arrays += [("grad_multiplier", out_c, 4), ("grad_shift", out_c, 4)]
    if n_channels:
        arrays += [("qas_w_multiplier", out_c, 4), ("qas_w_shift", out_c, 4)]
    if flags & LayerFlag.BIAS_TRAINED:
        arrays += [("qas_b_multiplier", out_c, 4), ("qas_b_shift", out_c, 4)]
    arrays.append(("channels", n_channels, 2))
    return arrays


def layer_block_bytes(kind: int, out_c: int, n_channels: int, flags: int) -> int:
    return LAYER_FIXED_BYTES + sum(align(n * size) for _, n, size in layer_array_counts(kind, out_c, n_channels, flags))


# -- op signatures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Role:
    """One buffer slot of an op: its name, element type and whether it may be NONE16."""

    name: str
    dtype: DType
    optional: bool = False


#: Forward kinds an op may run again in the backward (``OpFlag.RECOMPUTE``).
RECOMPUTABLE = frozenset({OpKind.CONV2D, OpKind.PW_CONV2D, OpKind.DW_CONV2D, OpKind.FC, OpKind.ADD})


def _r(spec: str) -> Role:
    name, dtype = spec.split(":")
    return Role(name.rstrip("?"), DType[dtype], name.endswith("?"))


@dataclass(frozen=True)
class Signature:
    phase: Phase
    ins: tuple[Role, ...]
    outs: tuple[Role, ...]
    params: ParamType | None
    doc: str


def _sig(phase, ins, outs, params, doc) -> Signature:
    return Signature(phase, tuple(_r(s) for s in ins), tuple(_r(s) for s in outs), params, doc)


_CONV_FWD = ("x:INT8", "w?:INT8", "b?:INT32")
_FWD_DOC = ("y = requantize(bias + sum (x - input_zp) * W); W = the factory weights with the trained "
            "input channels replaced by the arena slice w (if given), bias = b (if given) or the factory "
            "biases; mask = tt_mask_pack_s8(y) if given")
_BWD_DOC = "dx = tt_<op>_bwd_input_s16(dy, W) with W as in the forward; exponent slot of dx written"

#: What every op kind reads and writes (by slot), its phase and its parameter block.
SIGNATURES: dict[OpKind, Signature] = {
    OpKind.LOAD_WEIGHTS: _sig(Phase.LOAD, (), ("w:INT8",), ParamType.LAYER,
                              "w[o][t][j] = factory W[o][t][channels[j]] ([t][j] for depthwise)"),
    OpKind.LOAD_BIAS: _sig(Phase.LOAD, (), ("b:INT32",), ParamType.LAYER, "b = factory biases"),
    OpKind.INPUT: _sig(Phase.FORWARD, (), ("x:INT8",), None, "x = the sample (header input_*)"),
    OpKind.CONV2D: _sig(Phase.FORWARD, _CONV_FWD, ("y:INT8", "mask?:MASK"), ParamType.LAYER, _FWD_DOC),
    OpKind.PW_CONV2D: _sig(Phase.FORWARD, _CONV_FWD, ("y:INT8", "mask?:MASK"), ParamType.LAYER, _FWD_DOC),
    OpKind.DW_CONV2D: _sig(Phase.FORWARD, _CONV_FWD, ("y:INT8", "mask?:MASK"), ParamType.LAYER, _FWD_DOC),
    OpKind.FC: _sig(Phase.FORWARD, _CONV_FWD, ("y:INT8", "mask?:MASK"), ParamType.LAYER, _FWD_DOC),
    OpKind.ADD: _sig(Phase.FORWARD, ("a:INT8", "b:INT8"), ("y:INT8", "mask?:MASK"), ParamType.ADD,
                     "y = tt_add_fwd_s8(a, b); mask as for convolutions"),
    OpKind.AVGPOOL: _sig(Phase.FORWARD, ("x:INT8",), ("y:INT8", "mask?:MASK"), ParamType.POOL,
                         "y = tt_avgpool_fwd_s8(x)"),
    OpKind.SAVE: _sig(Phase.FORWARD, ("x:INT8",), ("saved:INT8",), ParamType.LAYER,
                      "saved[p][j] = x[p][channels[j]] (the layer's input, trained channels only)"),
    OpKind.FUSED_BLOCK: _sig(Phase.FORWARD, ("x:INT8",), ("y:INT8",), ParamType.FUSED,
                             "y = [add(x, ] pw2(dw(pw1(x))) [)] with factory weights, row-streamed "
                             "(tt_irb_fwd_s8): the expanded tensors never exist; y may be x"),
    OpKind.LOSS: _sig(Phase.BACKWARD, ("logits:INT8",), ("grad:INT16",), ParamType.LOSS,
                      "tt_softmax_xent_s8 against the sample's label: prediction, loss, grad + exponent"),
    OpKind.MASK_BWD: _sig(Phase.BACKWARD, ("mask:MASK", "grad:INT16"), ("grad:INT16",), None,
                          "grad = tt_mask_bwd_s16(mask, grad) in place (same buffer in and out)"),
    OpKind.CONV2D_BWD_INPUT: _sig(Phase.BACKWARD, ("dy:INT16", "w?:INT8"), ("dx:INT16",), ParamType.LAYER, _BWD_DOC),
    OpKind.PW_CONV2D_BWD_INPUT: _sig(Phase.BACKWARD, ("dy:INT16", "w?:INT8"), ("dx:INT16",), ParamType.LAYER, _BWD_DOC),
    OpKind.DW_CONV2D_BWD_INPUT: _sig(Phase.BACKWARD, ("dy:INT16", "w?:INT8"), ("dx:INT16",), ParamType.LAYER,
                                     _BWD_DOC + "; dx may be at dy's offset where "
                                     "tt_dw_conv2d_bwd_input_inplace_s16_supported (written over dy)"),
    OpKind.FC_BWD_INPUT: _sig(Phase.BACKWARD, ("dy:INT16", "w?:INT8"), ("dx:INT16",), ParamType.LAYER, _BWD_DOC),
    OpKind.AVGPOOL_BWD_INPUT: _sig(Phase.BACKWARD, ("dy:INT16",), ("dx:INT16",), ParamType.POOL,
                                   "dx = tt_avgpool_bwd_input_s16(dy)"),
    OpKind.GRAD_ADD: _sig(Phase.BACKWARD, ("other:INT16", "grad:INT16"), ("grad:INT16",), None,
                          "grad = tt_add_bwd_input_s16(grad, other) in place"),
    OpKind.GRAD_COPY: _sig(Phase.BACKWARD, ("src:INT16",), ("dst:INT16",), None, "dst = src, exponent too"),
    OpKind.BIAS_GRAD: _sig(Phase.BACKWARD, ("dy:INT16",), ("db:INT32",), ParamType.LAYER, "db = tt_bias_bwd_s16(dy)"),
    OpKind.BIAS_UPDATE: _sig(Phase.BACKWARD, ("db:INT32", "b:INT32"), ("b:INT32",), ParamType.LAYER,
                             "b = tt_sgd_update_s32(db, qas_b) in place"),
    OpKind.WEIGHT_GRAD: _sig(Phase.BACKWARD, ("dy:INT16", "x:INT8"), ("dw:INT32",), ParamType.LAYER,
                             "dw[o][t][j] = tt_<op>_bwd_weight_s16(x, dy) over channels (COMPACT_INPUT: x is "
                             "the SAVE'd copy and its channel j is channels[j])"),
    OpKind.WEIGHT_UPDATE: _sig(Phase.BACKWARD, ("dw:INT32", "w:INT8"), ("w:INT8",), ParamType.LAYER,
                               "w = tt_sgd_update_s8(dw, qas_w) in place on the compact slice: element "
                               "(o, t, j) moves by QAS factor o (channels[j] for depthwise)"),
    OpKind.BIAS_GRAD_UPDATE: _sig(Phase.BACKWARD, ("dy:INT16", "b:INT32"), ("b:INT32",), ParamType.LAYER,
                                  "BIAS_GRAD then BIAS_UPDATE without the int32 gradient buffer"),
    OpKind.WEIGHT_GRAD_UPDATE: _sig(Phase.BACKWARD, ("dy:INT16", "x:INT8", "w:INT8"), ("w:INT8",), ParamType.LAYER,
                                    "WEIGHT_GRAD then WEIGHT_UPDATE one output channel at a time (scratch: one "
                                    "channel of int32 dW); same exponent and PRNG order as the two ops"),
}

#: Forward/backward-input kinds of each LAYER kind.
FORWARD_OF = {LayerKind.CONV2D: OpKind.CONV2D, LayerKind.PW_CONV2D: OpKind.PW_CONV2D,
              LayerKind.DW_CONV2D: OpKind.DW_CONV2D, LayerKind.FC: OpKind.FC}
BWD_INPUT_OF = {LayerKind.CONV2D: OpKind.CONV2D_BWD_INPUT, LayerKind.PW_CONV2D: OpKind.PW_CONV2D_BWD_INPUT,
                LayerKind.DW_CONV2D: OpKind.DW_CONV2D_BWD_INPUT, LayerKind.FC: OpKind.FC_BWD_INPUT}


# -- weight blob ------------------------------------------------------------------------------

WeightsHeader = Struct(
    "magic" / Const(WEIGHTS_MAGIC),  #: b"TTWB"
    "version" / Int16ul,  #: FORMAT_VERSION
    "header_bytes" / Int16ul,  #: WEIGHTS_HEADER_BYTES
    "total_bytes" / Int32ul,
    "crc32" / Int32ul,  #: CRC-32 of bytes [CRC_START, total_bytes)
    "model_hash" / Bytes(32),  #: SHA-256 of the base .tflite
    "n_tensors" / Int32ul,  #: entries of the tensor table, <= MAX_TENSORS
    "table_offset" / Int32ul,  #: n_tensors TensorRecords
    "data_offset" / Int32ul,  #: first tensor's data
    Padding(12),
)
WEIGHTS_HEADER_BYTES = WeightsHeader.sizeof()

TensorRecord = Struct(
    "tflite_tensor" / Int32ul,  #: index of the tensor in the base .tflite's subgraph
    "layer" / Int16ul,  #: IR layer index
    "kind" / Int8ul,  #: TensorKind
    "replaced" / Int8ul,  #: 1: a classifier replaced at compile time (tflite_tensor names the old one)
    "offset" / Int32ul,  #: from the start of the blob, ALIGN-aligned
    "bytes" / Int32ul,  #: int8 weights or int32 biases
    "shape" / Array(4, Int16ul),  #: dimensions, unused trailing ones 0
)


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


# -- helpers ----------------------------------------------------------------------------------


def seal(blob: bytearray) -> bytearray:
    """Write ``total_bytes`` and the CRC of a blob whose header starts like PlanHeader's."""
    blob[8:12] = len(blob).to_bytes(4, "little")
    blob[12:16] = crc32(bytes(blob[CRC_START:])).to_bytes(4, "little")
    return blob


def plan_hash(plan: bytes, weights: bytes) -> bytes:
    """SHA-256 of the plan with its crc32 and plan_hash fields zeroed, then the weight blob."""
    b = bytearray(plan)
    b[12:16] = bytes(4)
    off = _PLAN_HASH_OFFSET
    b[off:off + 32] = bytes(32)
    return hashlib.sha256(bytes(b) + bytes(weights)).digest()


_PLAN_HASH_OFFSET = 16 + 32


def name_bytes(name: str, n: int = SCHEME_NAME_BYTES) -> bytes:
    raw = name.encode("ascii", "replace")[:n]
    return raw + bytes(n - len(raw))


def build_labels(labels: list[str]) -> bytes:
    """The label area: LabelRecords, then the UTF-8 strings, padded to ALIGN."""
    encoded = [s.encode("utf-8") for s in labels]
    for s in encoded:
        if not 1 <= len(s) <= MAX_LABEL_BYTES:
            raise ValueError(f"label names must be 1..{MAX_LABEL_BYTES} UTF-8 bytes, got {s!r}")
    out = bytearray()
    pos = 0
    for s in encoded:
        out += LabelRecord.build(dict(offset=pos, length=len(s)))
        pos += len(s)
    out += b"".join(encoded)
    return bytes(out + bytes(align(len(out)) - len(out)))


def parse_labels(area: bytes, n: int) -> list[str]:
    """Inverse of :func:`build_labels`; raises :class:`PlanInvalid` (BAD_LABELS)."""
    rec = LabelRecord.sizeof()
    if n * rec > len(area):
        raise PlanInvalid(Check.BAD_LABELS, "label records outside the label area")
    strings = area[n * rec:]
    out = []
    for i in range(n):
        r = LabelRecord.parse(area[i * rec:(i + 1) * rec])
        if not 1 <= r.length <= MAX_LABEL_BYTES or r.offset + r.length > len(strings):
            raise PlanInvalid(Check.BAD_LABELS, f"label {i} outside the label area")
        try:
            out.append(bytes(strings[r.offset:r.offset + r.length]).decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise PlanInvalid(Check.BAD_LABELS, f"label {i} is not UTF-8") from exc
    return out


# -- validation -------------------------------------------------------------------------------


def _u32(blob: bytes, off: int) -> int:
    return int.from_bytes(blob[off:off + 4], "little")


def _check_header(blob: bytes, magic: bytes, header_bytes: int, what: str) -> None:
    if len(blob) < header_bytes:
        raise PlanInvalid(Check.TRUNCATED, f"{what} of {len(blob)} bytes is shorter than its {header_bytes}-byte header")
    if blob[:4] != magic:
        raise PlanInvalid(Check.BAD_MAGIC, f"{what} does not start with {magic!r}")
    version = int.from_bytes(blob[4:6], "little")
    if version != FORMAT_VERSION:
        raise PlanInvalid(Check.BAD_VERSION, f"{what} has format version {version}, this loader reads {FORMAT_VERSION}")
    if int.from_bytes(blob[6:8], "little") != header_bytes or _u32(blob, 8) != len(blob):
        raise PlanInvalid(Check.BAD_LENGTH, f"{what}: header says {_u32(blob, 8)} bytes in all, received {len(blob)}")
    if crc32(bytes(blob[CRC_START:])) != _u32(blob, 12):
        raise PlanInvalid(Check.BAD_CRC, f"{what}: CRC-32 mismatch")


def _region(check: Check, what: str, offset: int, size: int, limit: int, lower: int = 0) -> None:
    if offset % ALIGN or size < 0 or offset < lower or offset + size > limit:
        raise PlanInvalid(check, f"{what} [{offset}, {offset + size}) is misaligned or outside [{lower}, {limit})")


def validate_weights(weights: bytes) -> Any:
    """The weight blob's own checks (also run by :func:`validate` when it is given)."""
    _check_header(weights, WEIGHTS_MAGIC, WEIGHTS_HEADER_BYTES, "weight blob")
    h = WeightsHeader.parse(weights)
    if h.n_tensors > MAX_TENSORS:
        raise PlanInvalid(Check.BAD_COUNT, f"{h.n_tensors} tensors, at most {MAX_TENSORS}")
    _region(Check.BAD_TABLE, "tensor table", h.table_offset, h.n_tensors * TensorRecord.sizeof(), len(weights),
            WEIGHTS_HEADER_BYTES)
    for i in range(h.n_tensors):
        r = TensorRecord.parse(weights[h.table_offset + i * TensorRecord.sizeof():])
        _region(Check.BAD_TABLE, f"tensor {i}", r.offset, r.bytes, len(weights), h.data_offset)
    return h


@dataclass(frozen=True)
class Validated:
    """What :func:`validate` parsed, for callers that go on to use the blob."""

    header: Any
    buffers: list
    ops: list
    labels: list[str]


class _Pool:
    """Parameter-pool access with the loader's checks."""

    def __init__(self, blob: bytes, start: int, size: int, weights_bytes: int) -> None:
        self.blob, self.start, self.size, self.weights_bytes = blob, start, size, weights_bytes
        self.cache: dict[int, Any] = {}

    def block(self, offset: int, want: ParamType) -> Any:
        if offset == NONE32 or offset % ALIGN or offset + BlockHeader.sizeof() > self.size:
            raise PlanInvalid(Check.BAD_PARAMS, f"parameter block offset {offset} outside the pool ({self.size} bytes)")
        base = self.start + offset
        head = BlockHeader.parse(self.blob[base:])
        if head.type != want:
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset} has type {head.type}, the op needs {want.name}")
        if head.bytes % ALIGN or offset + head.bytes > self.size:
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset} of {head.bytes} bytes overruns the pool")
        if offset in self.cache:
            return self.cache[offset]
        st = BLOCKS[want]
        if head.bytes < st.sizeof():
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: {head.bytes} bytes, a {want.name} block has {st.sizeof()}")
        b = st.parse(self.blob[base:base + head.bytes])
        if want == ParamType.LAYER:
            b = self._layer(b, offset, base)
        elif want == ParamType.POOL:
            self._geom(b.geom, offset)
            self._clamp(b, offset)
            if b.geom.out_c != b.geom.in_c or head.bytes != st.sizeof():
                raise PlanInvalid(Check.BAD_PARAMS, f"pool block at {offset}: channels or size")
        elif want == ParamType.ADD:
            self._clamp(b, offset)
            if not 1 <= b.numel <= MAX_CHANNELS ** 2 or head.bytes != st.sizeof():
                raise PlanInvalid(Check.BAD_PARAMS, f"add block at {offset}: numel or size")
        elif want == ParamType.LOSS:
            if head.bytes != st.sizeof() or not 1 <= b.n_classes <= MAX_CLASSES or not b.scale > 0:
                raise PlanInvalid(Check.BAD_PARAMS, f"loss block at {offset}")
        elif want == ParamType.FUSED:
            if head.bytes != st.sizeof():
                raise PlanInvalid(Check.BAD_PARAMS, f"fused block at {offset}: size")
            dw = self.block(b.dw, ParamType.LAYER)
            pw2 = self.block(b.pw2, ParamType.LAYER)
            pw1 = None if b.pw1 == NONE32 else self.block(b.pw1, ParamType.LAYER)
            add = None if b.add == NONE32 else self.block(b.add, ParamType.ADD)
            ok = (dw.header.kind == LayerKind.DW_CONV2D and pw2.header.kind == LayerKind.PW_CONV2D
                  and _out_numel(dw.geom) == _in_numel(pw2.geom) and dw.geom.out_c == dw.geom.in_c
                  and pw2.n_channels == 0 and dw.n_channels == 0 and not dw.flags & LayerFlag.BIAS_TRAINED
                  and not pw2.flags & LayerFlag.BIAS_TRAINED)
            if pw1 is not None:
                ok = ok and (pw1.header.kind in (LayerKind.PW_CONV2D, LayerKind.CONV2D)
                             and _out_numel(pw1.geom) == _in_numel(dw.geom)
                             and pw1.n_channels == 0 and not pw1.flags & LayerFlag.BIAS_TRAINED)
            first = pw1 if pw1 is not None else dw
            if add is not None:
                ok = ok and add.numel == _out_numel(pw2.geom) == _in_numel(first.geom) and b.residual_input in (1, 2)
            else:
                ok = ok and b.residual_input == 0
            if not ok:
                raise PlanInvalid(Check.BAD_PARAMS, f"fused block at {offset}: layers do not chain")
            b = dict(block=b, pw1=pw1, dw=dw, pw2=pw2, add=add)
        self.cache[offset] = b
        return b

    @staticmethod
    def _geom(g, offset: int) -> None:
        vals = [g[k] for k in ("in_h", "in_w", "in_c", "out_h", "out_w", "out_c")]
        if max(vals) > MAX_CHANNELS or geometry_problem(g):
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: inconsistent geometry ({geometry_problem(g) or 'too large'})")

    @staticmethod
    def _clamp(b, offset: int) -> None:
        if not -128 <= b.act_min <= b.act_max <= 127:
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: output clamp [{b.act_min}, {b.act_max}]")

    def _layer(self, b, offset: int, base: int) -> Any:
        g = b.geom
        self._geom(g, offset)
        self._clamp(b, offset)
        kind = b.header.kind
        if kind not in set(LayerKind):
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: unknown layer kind {kind}")
        one = (g.kernel_h, g.kernel_w, g.pad_top, g.pad_left, g.pad_bottom, g.pad_right) == (1, 1, 0, 0, 0, 0)
        if kind == LayerKind.PW_CONV2D and not one:
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: pointwise with a kernel or padding")
        if kind == LayerKind.FC and not (one and g.in_h == g.in_w == g.out_h == g.out_w == 1):
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: fully connected with a spatial geometry")
        if kind == LayerKind.DW_CONV2D and g.out_c != g.in_c:
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: depthwise with multiplier != 1")
        if not (-128 <= b.input_zp <= 127 and -128 <= b.output_zp <= 127) or b.flags & ~0x7:
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: zero points or flags")
        if ((b.weight_step_max <= 0) if b.n_channels else (b.weight_step_max != 0)) or (
                (b.bias_step_max <= 0) if b.flags & LayerFlag.BIAS_TRAINED else (b.bias_step_max != 0)):
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: step bounds must be positive for what trains and 0 "
                              f"otherwise (weights {b.weight_step_max}, biases {b.bias_step_max})")
        if b.n_channels > weight_in_channels(kind, g):
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: {b.n_channels} trained channels of {weight_in_channels(kind, g)}")
        if b.header.bytes != layer_block_bytes(kind, g.out_c, b.n_channels, b.flags):
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: {b.header.bytes} bytes, its counts give "
                              f"{layer_block_bytes(kind, g.out_c, b.n_channels, b.flags)}")
        wbytes = weight_count(kind, g)
        if b.weights_bytes != wbytes or b.bias_bytes != 4 * g.out_c:
            raise PlanInvalid(Check.BAD_WEIGHTS, f"block at {offset}: weight/bias references of the wrong size")
        _region(Check.BAD_WEIGHTS, f"weights of block {offset}", b.weights_offset, wbytes, self.weights_bytes,
                WEIGHTS_HEADER_BYTES)
        _region(Check.BAD_WEIGHTS, f"biases of block {offset}", b.bias_offset, 4 * g.out_c, self.weights_bytes,
                WEIGHTS_HEADER_BYTES)
        arrays: dict[str, list[int]] = {}
        pos = base + LAYER_FIXED_BYTES
        for name, n, size in layer_array_counts(kind, g.out_c, b.n_channels, b.flags):
            arrays[name] = list(struct.unpack_from("<" + ("h" if size == 2 else "i") * n, self.blob, pos))
            pos += align(n * size)
        if any(not -31 <= s <= 30 for s in arrays["shift"]):
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: requantization shift out of range")
        ch = arrays["channels"]
        n_in = weight_in_channels(kind, g)
        if any(not 0 <= c < n_in for c in ch) or len(set(ch)) != len(ch):
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: channel list out of range or repeated")
        if b.flags & LayerFlag.GRAD_QUANT and (any(not -31 <= s <= 0 for s in arrays["grad_shift"])
                                               or not -31 <= b.grad_scale_shift <= 30):
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: gradient quantization shift out of range")
        return _LayerView(b, arrays)


class _LayerView:
    """A parsed LAYER block: fixed fields as attributes plus the arrays."""

    def __init__(self, b, arrays: dict[str, list[int]]) -> None:
        self.__dict__.update({k: v for k, v in b.items() if not k.startswith("_")})
        self.arrays = arrays


def geometry_problem(g) -> str | None:
    """Same rule as ``tt_conv_geom_check`` (and :meth:`ConvGeom.problem`)."""
    get = (lambda k: g[k]) if isinstance(g, dict) else (lambda k: getattr(g, k))
    if min(get(k) for k in ("in_h", "in_w", "in_c", "out_h", "out_w", "out_c")) < 1:
        return "dimensions must be >= 1"
    if min(get(k) for k in ("kernel_h", "kernel_w", "stride_h", "stride_w")) < 1:
        return "kernel and stride must be >= 1"
    if min(get(k) for k in ("pad_top", "pad_left", "pad_bottom", "pad_right")) < 0:
        return "padding must be >= 0"
    if max(get("pad_top"), get("pad_bottom")) >= get("kernel_h") or max(get("pad_left"), get("pad_right")) >= get("kernel_w"):
        return "padding must be smaller than the kernel"
    for n_in, n_out, k, s, p0, p1 in (("in_h", "out_h", "kernel_h", "stride_h", "pad_top", "pad_bottom"),
                                      ("in_w", "out_w", "kernel_w", "stride_w", "pad_left", "pad_right")):
        span = get(n_in) + get(p0) + get(p1)
        if span < get(k) or (span - get(k)) // get(s) + 1 != get(n_out):
            return "output size does not match input, kernel, stride and padding"
    return None


def _in_numel(g) -> int:
    return g.in_h * g.in_w * g.in_c


def _out_numel(g) -> int:
    return g.out_h * g.out_w * g.out_c


def weight_in_channels(kind: int, g) -> int:
    return g.in_c


def weight_count(kind: int, g) -> int:
    """int8 weights of a layer: OHWI, 1HWC for depthwise, [out][in] for FC."""
    if kind == LayerKind.DW_CONV2D:
        return g.kernel_h * g.kernel_w * g.out_c
    return g.out_c * g.kernel_h * g.kernel_w * g.in_c


def slice_count(kind: int, g, n_channels: int) -> int:
    """Elements of a trained weight slice (compact, ``[out_c][taps][n]`` or ``[taps][n]``)."""
    taps = g.kernel_h * g.kernel_w
    return taps * n_channels if kind == LayerKind.DW_CONV2D else g.out_c * taps * n_channels


def _sizes(kind: OpKind, p, flags: int) -> dict[str, int]:
    """Expected byte size of each slot of an op, from its parameter block."""
    if kind in (OpKind.CONV2D, OpKind.PW_CONV2D, OpKind.DW_CONV2D, OpKind.FC, OpKind.LOAD_WEIGHTS, OpKind.LOAD_BIAS,
                OpKind.SAVE, OpKind.BIAS_GRAD, OpKind.BIAS_UPDATE, OpKind.WEIGHT_GRAD, OpKind.WEIGHT_UPDATE,
                OpKind.BIAS_GRAD_UPDATE, OpKind.WEIGHT_GRAD_UPDATE) or kind in BWD_INPUT_OF.values():
        g, n, lk = p.geom, p.n_channels, p.header.kind
        want_kind = {v: k for k, v in FORWARD_OF.items()}.get(kind) or {v: k for k, v in BWD_INPUT_OF.items()}.get(kind)
        if want_kind is not None and lk != want_kind:
            raise PlanInvalid(Check.BAD_PARAMS, f"{kind.name} with a {LayerKind(lk).name} block")
        if kind in BWD_INPUT_OF.values() and not p.flags & LayerFlag.GRAD_QUANT:
            raise PlanInvalid(Check.BAD_PARAMS, f"{kind.name} on a layer without gradient quantization")
        if kind in (OpKind.LOAD_BIAS, OpKind.BIAS_GRAD, OpKind.BIAS_UPDATE, OpKind.BIAS_GRAD_UPDATE) and not (
                p.flags & LayerFlag.BIAS_TRAINED):
            raise PlanInvalid(Check.BAD_PARAMS, f"{kind.name} on a layer whose bias does not train")
        if kind in (OpKind.LOAD_WEIGHTS, OpKind.SAVE, OpKind.WEIGHT_GRAD, OpKind.WEIGHT_UPDATE,
                    OpKind.WEIGHT_GRAD_UPDATE) and n == 0:
            raise PlanInvalid(Check.BAD_PARAMS, f"{kind.name} on a layer whose weights do not train")
        if kind == OpKind.SAVE and n >= g.in_c:
            raise PlanInvalid(Check.BAD_PARAMS, "SAVE of every channel (the activation itself is kept)")
        x = g.in_h * g.in_w * (n if flags & OpFlag.COMPACT_INPUT else g.in_c)
        return dict(x=x, saved=g.in_h * g.in_w * n, w=slice_count(lk, g, n), b=4 * g.out_c, y=_out_numel(g),
                    mask=-(-_out_numel(g) // 8), dy=2 * _out_numel(g), dx=2 * _in_numel(g), db=4 * g.out_c,
                    dw=4 * slice_count(lk, g, n))
    if kind in (OpKind.AVGPOOL, OpKind.AVGPOOL_BWD_INPUT):
        g = p.geom
        return dict(x=_in_numel(g), y=_out_numel(g), mask=-(-_out_numel(g) // 8), dy=2 * _out_numel(g), dx=2 * _in_numel(g))
    if kind == OpKind.ADD:
        return dict(a=p.numel, b=p.numel, y=p.numel, mask=-(-p.numel // 8))
    if kind == OpKind.LOSS:
        return dict(logits=p.n_classes, grad=2 * p.n_classes)
    if kind == OpKind.FUSED_BLOCK:
        first = p["pw1"] or p["dw"]
        return dict(x=_in_numel(first.geom), y=_out_numel(p["pw2"].geom))
    return {}


def validate(plan: bytes, weights: bytes | None = None, arena_limit: int | None = None) -> Validated:
    """Run the firmware loader's checks on a plan blob (and its weight blob, when given).

    ``arena_limit`` is the device's arena size. Raises :class:`PlanInvalid`; returns the
    parsed header, tables and labels. Scratch sizes are the one check left to the C loader,
    which asks each kernel's ``..._scratch_size()``.
    """
    plan = bytes(plan)
    _check_header(plan, PLAN_MAGIC, PLAN_HEADER_BYTES, "plan")
    h = PlanHeader.parse(plan)
    if (h.n_buffers > MAX_BUFFERS or h.n_ops > MAX_OPS or not 1 <= h.n_classes <= MAX_CLASSES
            or h.n_labels not in (0, h.n_classes) or h.n_exp_slots > h.n_buffers):
        raise PlanInvalid(Check.BAD_COUNT, f"{h.n_buffers} buffers, {h.n_ops} ops, {h.n_classes} classes, "
                          f"{h.n_labels} labels, {h.n_exp_slots} exponent slots")
    total = len(plan)
    _region(Check.BAD_TABLE, "buffer table", h.buffer_table_offset, h.n_buffers * BufferRecord.sizeof(), total, PLAN_HEADER_BYTES)
    _region(Check.BAD_TABLE, "op table", h.op_table_offset, h.n_ops * OpRecord.sizeof(), total, PLAN_HEADER_BYTES)
    _region(Check.BAD_TABLE, "parameter pool", h.param_pool_offset, h.param_pool_bytes, total, PLAN_HEADER_BYTES)
    _region(Check.BAD_TABLE, "label area", h.label_table_offset, h.label_bytes, total, PLAN_HEADER_BYTES)
    if arena_limit is not None and h.arena_bytes > arena_limit:
        raise PlanInvalid(Check.ARENA_TOO_SMALL, f"the plan needs {h.arena_bytes} arena bytes, the device has {arena_limit}")
    _region(Check.BAD_BUFFER, "exponent table", h.exp_table_offset, 4 * h.n_exp_slots, h.arena_bytes)

    if weights is not None:
        wh = validate_weights(weights)
        if len(weights) != h.weights_bytes or wh.crc32 != h.weights_crc32 or wh.model_hash != h.model_hash:
            raise PlanInvalid(Check.BAD_WEIGHTS, "the weight blob is not the one this plan was compiled with")
    if (h.momentum_q15 != 0 or not 2**30 <= h.lr_multiplier < 2**31 or not -31 <= h.lr_shift <= 0
            or not 2**30 <= h.head_lr_multiplier < 2**31 or not -31 <= h.head_lr_shift <= 0):
        raise PlanInvalid(Check.BAD_OPTIMIZER, f"learning rate ({h.lr_multiplier}, {h.lr_shift}), head rate "
                          f"({h.head_lr_multiplier}, {h.head_lr_shift}) or momentum "
                          f"{h.momentum_q15} unsupported")

    buffers = []
    rec = BufferRecord.sizeof()
    for i in range(h.n_buffers):
        b = BufferRecord.parse(plan[h.buffer_table_offset + i * rec:])
        if b.dtype not in set(DType) or b.kind not in set(BufferKind) or b.size == 0 or b.size % DType(b.dtype).size:
            raise PlanInvalid(Check.BAD_BUFFER, f"buffer {i}: type {b.dtype}/{b.kind}, {b.size} bytes")
        _region(Check.BAD_BUFFER, f"buffer {i}", b.offset, b.size, h.exp_table_offset)
        if (i < h.n_exp_slots) != (b.dtype in (DType.INT16, DType.INT32) and b.kind in (BufferKind.GRAD, BufferKind.PARAM_GRAD)):
            raise PlanInvalid(Check.BAD_BUFFER, f"buffer {i}: gradient buffers (and only they) come first")
        buffers.append(b)

    pool = _Pool(plan, h.param_pool_offset, h.param_pool_bytes, h.weights_bytes)
    ops = []
    rec = OpRecord.sizeof()
    phase = Phase.LOAD
    n_input = n_loss = 0
    for i in range(h.n_ops):
        op = OpRecord.parse(plan[h.op_table_offset + i * rec:])
        if op.kind not in set(OpKind):
            raise PlanInvalid(Check.BAD_OP_KIND, f"op {i}: unknown kind 0x{op.kind:02X}")
        kind = OpKind(op.kind)
        sig = SIGNATURES[kind]
        allowed_flags = (OpFlag.COMPACT_INPUT if kind in (OpKind.WEIGHT_GRAD, OpKind.WEIGHT_GRAD_UPDATE)
                         else OpFlag.STREAMED if kind == OpKind.INPUT
                         else OpFlag.RECOMPUTE if kind in RECOMPUTABLE else 0)
        if op.flags & ~allowed_flags:
            raise PlanInvalid(Check.BAD_OP_KIND, f"op {i} ({kind.name}): flags 0x{op.flags:02X}")
        want = Phase.BACKWARD if op.flags & OpFlag.RECOMPUTE else sig.phase
        if op.phase != want or op.phase < phase:
            raise PlanInvalid(Check.BAD_OP_ORDER, f"op {i} ({kind.name}) in phase {op.phase} after phase {int(phase)}")
        phase = Phase(op.phase)
        n_input += kind == OpKind.INPUT
        n_loss += kind == OpKind.LOSS
        slots = [(r, op.ins[k]) for k, r in enumerate(sig.ins)] + [(r, op.outs[k]) for k, r in enumerate(sig.outs)]
        unused = list(op.ins[len(sig.ins):]) + list(op.outs[len(sig.outs):])
        if any(u != NONE16 for u in unused):
            raise PlanInvalid(Check.BAD_BUFFER_ID, f"op {i} ({kind.name}): a slot it does not have is set")
        for role, bid in slots:
            if bid == NONE16 and not role.optional:
                raise PlanInvalid(Check.BAD_BUFFER_ID, f"op {i} ({kind.name}): {role.name} missing")
            if bid != NONE16 and bid >= h.n_buffers:
                raise PlanInvalid(Check.BAD_BUFFER_ID, f"op {i} ({kind.name}): {role.name} = buffer {bid} of {h.n_buffers}")
        if op.scratch != NONE16 and (op.scratch >= h.n_buffers or buffers[op.scratch].dtype != DType.BYTES):
            raise PlanInvalid(Check.BAD_BUFFER_ID, f"op {i} ({kind.name}): scratch buffer {op.scratch}")
        params = None
        if sig.params is None:
            if op.params != NONE32:
                raise PlanInvalid(Check.BAD_PARAMS, f"op {i} ({kind.name}) takes no parameter block")
        else:
            params = pool.block(op.params, sig.params)
        reads_stream = bool(ops) and ops[-1].kind == OpKind.INPUT and ops[-1].flags & OpFlag.STREAMED
        _check_shapes(i, kind, op, sig, params, buffers, h,
                      streamed_reader=reads_stream and kind == OpKind.FUSED_BLOCK and op.ins[0] == h.input_buffer)
        ops.append(op)
    if n_input != 1 or n_loss != 1:
        raise PlanInvalid(Check.BAD_OP_ORDER, f"{n_input} INPUT and {n_loss} LOSS ops, need exactly one of each")
    _check_streamed(ops, h)
    labels = parse_labels(plan[h.label_table_offset:h.label_table_offset + h.label_bytes], h.n_labels)
    return Validated(h, buffers, ops, labels)


def _check_streamed(ops: list, h) -> None:
    """A STREAMED INPUT is followed by the FUSED_BLOCK that reads it; no other op reads it."""
    at = next(i for i, op in enumerate(ops) if op.kind == OpKind.INPUT)
    if not ops[at].flags & OpFlag.STREAMED:
        return
    if at + 1 == len(ops) or ops[at + 1].kind != OpKind.FUSED_BLOCK or ops[at + 1].ins[0] != h.input_buffer:
        raise PlanInvalid(Check.BAD_OP_ORDER, f"op {at}: a streamed INPUT must be followed by the FUSED_BLOCK reading it")
    for i, op in enumerate(ops):
        if i != at + 1 and h.input_buffer in list(op.ins):
            raise PlanInvalid(Check.BAD_BUFFER_ID, f"op {i}: reads the streamed input buffer")


def _check_shapes(i: int, kind: OpKind, op, sig: Signature, params, buffers: list, h, streamed_reader: bool = False) -> None:
    """``streamed_reader``: the FUSED_BLOCK right after a STREAMED INPUT, whose input slot holds
    rows of the sample (checked at the INPUT op) while the block reads the whole sample."""
    sizes = _sizes(kind, params, op.flags)
    if streamed_reader:
        if sizes.pop("x") != h.input_h * h.input_w * h.input_c:
            raise PlanInvalid(Check.BAD_SHAPE, f"op {i}: the streamed block does not read the sample")
    if kind == OpKind.INPUT:
        sizes = dict(x=h.input_h * h.input_w * h.input_c)
        row, have = h.input_w * h.input_c, buffers[op.outs[0]].size if op.outs[0] < len(buffers) else 0
        if op.flags & OpFlag.STREAMED:  # whole rows, at least one, at most the sample
            if have % row or not row <= have <= sizes["x"]:
                raise PlanInvalid(Check.BAD_SHAPE, f"op {i}: a streamed input buffer of {have} bytes is not "
                                  f"1..{h.input_h} rows of {row} bytes")
            sizes = dict(x=have)
        if op.outs[0] != h.input_buffer:
            raise PlanInvalid(Check.BAD_SHAPE, f"op {i}: INPUT writes buffer {op.outs[0]}, the header says {h.input_buffer}")
    if kind == OpKind.LOSS and (op.ins[0] != h.logits_buffer or params.n_classes != h.n_classes):
        raise PlanInvalid(Check.BAD_SHAPE, f"op {i}: LOSS reads buffer {op.ins[0]} of {params.n_classes} classes")
    if kind in (OpKind.MASK_BWD, OpKind.GRAD_ADD, OpKind.GRAD_COPY):
        g = buffers[op.ins[1 if kind != OpKind.GRAD_COPY else 0]].size
        sizes = dict(grad=g, other=g, src=g, dst=g, mask=-(-(g // 2) // 8))
    if kind in (OpKind.CONV2D, OpKind.PW_CONV2D, OpKind.DW_CONV2D, OpKind.FC) or kind in BWD_INPUT_OF.values():
        # The arena slice must be given exactly when the layer's weights train (and likewise the bias).
        w_slot = 1
        if (op.ins[w_slot] != NONE16) != (params.n_channels > 0):
            raise PlanInvalid(Check.BAD_BUFFER_ID, f"op {i} ({kind.name}): weight slice given iff weights train")
        if kind in FORWARD_OF.values() and (op.ins[2] != NONE16) != bool(params.flags & LayerFlag.BIAS_TRAINED):
            raise PlanInvalid(Check.BAD_BUFFER_ID, f"op {i} ({kind.name}): arena bias given iff the bias trains")
    in_place = {OpKind.MASK_BWD: (1, 0), OpKind.GRAD_ADD: (1, 0), OpKind.BIAS_UPDATE: (1, 0),
                OpKind.WEIGHT_UPDATE: (1, 0), OpKind.BIAS_GRAD_UPDATE: (1, 0), OpKind.WEIGHT_GRAD_UPDATE: (2, 0)}
    if kind in in_place:
        a, b = in_place[kind]
        if op.ins[a] != op.outs[b]:
            raise PlanInvalid(Check.BAD_BUFFER_ID, f"op {i} ({kind.name}) must update its buffer in place")
    for role, bid in [*zip(sig.ins, op.ins), *zip(sig.outs, op.outs)]:
        if bid == NONE16:
            continue
        buf = buffers[bid]
        want = sizes.get(role.name)
        if buf.dtype != role.dtype or (want is not None and buf.size != want):
            raise PlanInvalid(Check.BAD_SHAPE, f"op {i} ({kind.name}): {role.name} is buffer {bid} of {buf.size} bytes "
                              f"{DType(buf.dtype).name}, needs {want} bytes {role.dtype.name}")
        if role.dtype in (DType.INT16, DType.INT32) and buf.kind in (BufferKind.GRAD, BufferKind.PARAM_GRAD) and bid >= h.n_exp_slots:
            raise PlanInvalid(Check.BAD_SHAPE, f"op {i}: gradient buffer {bid} without an exponent slot")
    if kind in (OpKind.DW_CONV2D_BWD_INPUT,) and params.geom.out_c != params.geom.in_c:
        raise PlanInvalid(Check.BAD_PARAMS, f"op {i}: depthwise backward needs multiplier 1")


# -- corruption corpus --------------------------------------------------------------------------


@dataclass(frozen=True)
class Corruption:
    """A broken plan (with its weight blob) and the check that must reject it."""

    name: str
    plan: bytes
    weights: bytes
    expected: Check
    arena_limit: int | None = None


def _field_offset(struct: Struct, name: str) -> int:
    off = 0
    for sub in struct.subcons:
        if sub.name == name:
            return off
        off += sub.sizeof()
    raise KeyError(name)


def _patch(plan: bytes, offset: int, value: int, size: int = 4, signed: bool = False, reseal: bool = True) -> bytes:
    b = bytearray(plan)
    b[offset:offset + size] = int(value).to_bytes(size, "little", signed=signed)
    return bytes(seal(b) if reseal else b)


def corruptions(plan: bytes, weights: bytes) -> list[Corruption]:
    """Broken variants of a valid plan, each with the :class:`Check` that must catch it.

    Every variant past the CRC check is re-sealed (correct length and CRC), so it exercises
    the deeper check it is named after.
    """
    v = validate(plan, weights)
    h = v.header
    H = lambda name: _field_offset(PlanHeader, name)
    out: list[Corruption] = []

    def add(name: str, blob: bytes, check: Check, w: bytes = weights, limit: int | None = None) -> None:
        out.append(Corruption(name, bytes(blob), bytes(w), check, limit))

    add("truncated_header", plan[:PLAN_HEADER_BYTES - 1], Check.TRUNCATED)
    add("bad_magic", b"XXPL" + plan[4:], Check.BAD_MAGIC)
    add("bad_version", _patch(plan, 4, FORMAT_VERSION + 1, 2, reseal=False), Check.BAD_VERSION)
    add("truncated_body", plan[:-4], Check.BAD_LENGTH)
    add("bad_total_length", _patch(plan, 8, len(plan) + 4, reseal=False), Check.BAD_LENGTH)
    flipped = bytearray(plan)
    flipped[len(plan) // 2] ^= 0x40
    add("flipped_bit", bytes(flipped), Check.BAD_CRC)
    add("too_many_buffers", _patch(plan, H("n_buffers"), MAX_BUFFERS + 1, 2), Check.BAD_COUNT)
    add("labels_not_classes", _patch(plan, H("n_labels"), h.n_classes + 1, 2), Check.BAD_COUNT)
    add("op_table_outside_blob", _patch(plan, H("op_table_offset"), len(plan) - 8), Check.BAD_TABLE)
    add("pool_misaligned", _patch(plan, H("param_pool_offset"), h.param_pool_offset + 2), Check.BAD_TABLE)
    add("arena_too_small", plan, Check.ARENA_TOO_SMALL, limit=h.arena_bytes - 4)
    add("exp_table_outside_arena", _patch(plan, H("exp_table_offset"), h.arena_bytes), Check.BAD_BUFFER)
    add("momentum", _patch(plan, H("momentum_q15"), 1000, signed=True), Check.BAD_OPTIMIZER)
    add("head_rate_not_normal", _patch(plan, H("head_lr_multiplier"), 1 << 29, signed=True), Check.BAD_OPTIMIZER)
    wrong_w = bytearray(weights)
    wrong_w[16] ^= 1  # model hash of the weight blob
    add("weights_of_other_model", plan, Check.BAD_WEIGHTS, bytes(seal(wrong_w)))

    brec = BufferRecord.sizeof()
    b0 = h.buffer_table_offset + brec * (h.n_buffers - 1)
    add("buffer_outside_arena", _patch(plan, b0, h.exp_table_offset), Check.BAD_BUFFER)
    add("buffer_misaligned", _patch(plan, b0, v.buffers[-1].offset + 2), Check.BAD_BUFFER)
    add("buffer_unknown_dtype", _patch(plan, b0 + 8, 9, 1), Check.BAD_BUFFER)

    orec = OpRecord.sizeof()
    ops = v.ops
    idx = {OpKind(o.kind): k for k, o in reversed(list(enumerate(ops)))}
    op_at = lambda k: h.op_table_offset + orec * k
    first_fwd = next(k for k, o in enumerate(ops) if o.kind in (OpKind.CONV2D, OpKind.PW_CONV2D, OpKind.DW_CONV2D))
    add("unknown_op_kind", _patch(plan, op_at(first_fwd), 0x7E, 1), Check.BAD_OP_KIND)
    add("op_in_wrong_phase", _patch(plan, op_at(idx[OpKind.LOSS]) + 1, Phase.FORWARD, 1), Check.BAD_OP_ORDER)
    # A recomputed op belongs to the backward; only forward layer and ADD ops may be one.
    add("recompute_in_forward", _patch(plan, op_at(first_fwd) + 2, OpFlag.RECOMPUTE, 1), Check.BAD_OP_ORDER)
    add("recompute_of_loss", _patch(plan, op_at(idx[OpKind.LOSS]) + 2, OpFlag.RECOMPUTE, 1), Check.BAD_OP_KIND)
    add("buffer_id_out_of_range", _patch(plan, op_at(first_fwd) + 8, h.n_buffers, 2), Check.BAD_BUFFER_ID)
    add("required_slot_missing", _patch(plan, op_at(first_fwd) + 8, NONE16, 2), Check.BAD_BUFFER_ID)
    add("params_outside_pool", _patch(plan, op_at(first_fwd) + 24, h.param_pool_bytes), Check.BAD_PARAMS)
    loss_params = ops[idx[OpKind.LOSS]].params
    add("params_of_wrong_type", _patch(plan, op_at(first_fwd) + 24, loss_params), Check.BAD_PARAMS)
    # Shape: make the first forward op write the logits buffer (wrong size).
    add("output_wrong_size", _patch(plan, op_at(first_fwd) + 16, h.logits_buffer, 2), Check.BAD_SHAPE)
    # Geometry: the first forward layer's out_h off by one.
    p = ops[first_fwd].params
    geom_at = h.param_pool_offset + p + BlockHeader.sizeof() + _field_offset(Geometry, "out_h")
    out_h = int.from_bytes(plan[geom_at:geom_at + 4], "little", signed=True)
    add("geometry_inconsistent", _patch(plan, geom_at, out_h + 1, signed=True), Check.BAD_PARAMS)
    w_at = h.param_pool_offset + p + _field_offset(LayerBlock, "weights_offset")
    add("weights_ref_outside_blob", _patch(plan, w_at, h.weights_bytes - 4), Check.BAD_WEIGHTS)
    # A weight step bound must be set exactly when the weights train: toggle the first layer's.
    bound_at = h.param_pool_offset + p + _field_offset(LayerBlock, "weight_step_max")
    bound = 0 if _u32(plan, bound_at) else 1 << 16
    add("weight_step_bound_mismatch", _patch(plan, bound_at, bound, signed=True), Check.BAD_PARAMS)
    # A fused block's expansion must be a pointwise or general convolution: point it at the
    # block's own depthwise (whose shapes chain when its stride is 1, so only the kind refuses
    # it). A block whose expansion is a CONV2D (the stem) is preferred.
    pw1_of = lambda f: _u32(plan, h.param_pool_offset + f + _field_offset(FusedBlock, "pw1"))
    expanded = [o.params for o in ops if o.kind == OpKind.FUSED_BLOCK and pw1_of(o.params) != NONE32]
    is_conv = lambda f: int.from_bytes(plan[h.param_pool_offset + pw1_of(f) + 2:][:2], "little") == LayerKind.CONV2D
    expanded.sort(key=lambda f: not is_conv(f))
    if expanded:
        f_at = h.param_pool_offset + expanded[0]
        dw_at = _u32(plan, f_at + _field_offset(FusedBlock, "dw"))
        add("fused_expansion_not_a_conv", _patch(plan, f_at + _field_offset(FusedBlock, "pw1"), dw_at), Check.BAD_PARAMS)
    # Streaming: the flag only on INPUT; a streamed INPUT feeds the FUSED_BLOCK after it, in whole rows.
    flags_at = lambda k: op_at(k) + _field_offset(OpRecord, "flags")
    add("streamed_flag_not_on_input", _patch(plan, flags_at(idx[OpKind.LOSS]), OpFlag.STREAMED, 1), Check.BAD_OP_KIND)
    at = idx[OpKind.INPUT]
    if ops[at].flags & OpFlag.STREAMED:
        size_at = h.buffer_table_offset + brec * h.input_buffer + _field_offset(BufferRecord, "size")
        add("streamed_input_partial_row", _patch(plan, size_at, v.buffers[h.input_buffer].size - 1), Check.BAD_SHAPE)
    elif ops[at + 1].kind != OpKind.FUSED_BLOCK:
        add("streamed_input_into_a_layer", _patch(plan, flags_at(at), OpFlag.STREAMED, 1), Check.BAD_OP_ORDER)
    if h.n_labels:
        rec_at = h.label_table_offset + _field_offset(LabelRecord, "length")
        add("label_too_long", _patch(plan, rec_at, MAX_LABEL_BYTES + 1, 2), Check.BAD_LABELS)
    return out


# -- deltas files -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delta:
    """One tensor's change: ``values`` over the listed input ``channels`` (empty: whole tensor)."""

    tflite_tensor: int
    kind: TensorKind
    values: Any  #: numpy array: int8/int16 weight deltas, int32 bias deltas, or absolute values
    channels: tuple[int, ...] = ()
    absolute: bool = False


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
                                       flags=DeltaFlag.ABSOLUTE if r.absolute else 0, n_channels=len(r.channels),
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
        records.append(Delta(r.tflite_tensor, TensorKind(r.kind), values, channels, bool(r.flags & DeltaFlag.ABSOLUTE)))
    name = bytes(h.scheme_name).rstrip(b"\0").decode("ascii", "replace")
    return Deltas(h.model_hash, h.plan_hash, name, h.samples, h.n_classes, tuple(records), head)
