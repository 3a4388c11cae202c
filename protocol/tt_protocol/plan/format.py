"""The plan, weight-blob and deltas formats: limits, enums, the construct structs and the op
signatures (the C mirror is the generated ``tt/plan_gen.h``), and the helpers that seal,
hash and label a blob."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass

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

from ..errors import MalformedInput
from ..frame import crc32


# -- limits and constants ---------------------------------------------------------------------

PLAN_MAGIC = b"TTPL"
WEIGHTS_MAGIC = b"TTWB"
DELTAS_MAGIC = b"TTDL"
#: Format version of all three blobs; a loader refuses any other. Version 2: the classifier's
#: own learning rate, per-layer bounds on a step's update, the divergence guard. Version 3:
#: POOL blocks carry their kind and a mean's requantization (the MEAN and MAXPOOL ops); MUL,
#: HARD_SWISH, REQUANTIZE, CONCAT, PAD (and, added later without a new version, LOGISTIC).
FORMAT_VERSION = 3
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
    MEAN = 0x18  #: TFLite MEAN over H and W, requantizing (its backward is AVGPOOL_BWD_INPUT)
    MAXPOOL = 0x19
    MUL = 0x1A  #: b broadcasts over a (MulBlock.b_numel); without a b buffer, b is the block's constant
    HARD_SWISH = 0x1B
    REQUANTIZE = 0x1C  #: standalone RELU / RELU6 / LEAKY_RELU, an int8 -> int8 QUANTIZE
    CONCAT = 0x1D  #: up to 4 inputs sharing one quantization, along any axis (ConcatBlock)
    PAD = 0x1E  #: spatial padding no convolution absorbs (PadBlock)
    LOGISTIC = 0x1F  #: TFLite's int8 LOGISTIC (output 1/256, zero point -128)
    LOSS = 0x20  #: softmax cross-entropy against the sample's label
    MASK_BWD = 0x21
    CONV2D_BWD_INPUT = 0x22
    PW_CONV2D_BWD_INPUT = 0x23
    DW_CONV2D_BWD_INPUT = 0x24
    FC_BWD_INPUT = 0x25
    AVGPOOL_BWD_INPUT = 0x26
    GRAD_ADD = 0x27  #: grad += other (``tt_add_bwd_input_s16``)
    GRAD_COPY = 0x28
    MAXPOOL_BWD_INPUT = 0x29  #: reads the forward input: the gradient goes to each window's maximum
    MUL_BWD_A = 0x2A  #: dA = dY * b
    MUL_BWD_B = 0x2B  #: dB = dY * a, summed over where b was broadcast
    HARD_SWISH_BWD_INPUT = 0x2C  #: reads the forward input: dX = dY * h'(x)
    GRAD_SLICE = 0x2D  #: a concatenation input's gradient: its columns of dY (SliceBlock)
    LEAKY_RELU_BWD_INPUT = 0x2E  #: reads the forward input: dX = dY, or alpha * dY below 0
    GRAD_CROP = 0x2F  #: a PAD's input gradient: dY without the padding
    BIAS_GRAD = 0x30
    BIAS_UPDATE = 0x31
    WEIGHT_GRAD = 0x32
    WEIGHT_UPDATE = 0x33
    BIAS_GRAD_UPDATE = 0x34  #: bias gradient and SGD step fused (no int32 gradient buffer)
    WEIGHT_GRAD_UPDATE = 0x35  #: weight gradient and SGD step per output channel, fused
    LOGISTIC_BWD_INPUT = 0x36  #: reads the forward input: dX = dY * s(1 - s)


class ParamType(enum.IntEnum):
    """Type of a parameter-pool block (first field of every block)."""

    LAYER = 1
    ADD = 2
    POOL = 3
    FUSED = 4
    LOSS = 5
    MUL = 6
    HARD_SWISH = 7
    REQUANTIZE = 8
    CONCAT = 9
    SLICE = 10
    PAD = 11
    LOGISTIC = 12


class LayerKind(enum.IntEnum):
    """The kernel family of a LAYER block."""

    CONV2D = 1
    PW_CONV2D = 2
    DW_CONV2D = 3
    FC = 4


class PoolKind(enum.IntEnum):
    """The arithmetic of a POOL block (its header's ``kind``)."""

    AVERAGE = 0  #: AVERAGE_POOL_2D: same quantization in and out, requantization fields 0
    MEAN = 1  #: MEAN over H and W: a global window and a requantization
    MAX = 2  #: MAX_POOL_2D: same quantization in and out, requantization fields 0


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
    "kind" / Int16ul,  #: LayerKind for LAYER blocks, PoolKind for POOL blocks, else 0
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
    "geom" / Geometry,  #: out_c == in_c; for MEAN the whole input (kernel = in_h x in_w, out 1 x 1)
    "act_min" / Int32sl,
    "act_max" / Int32sl,
    #: tt_mean_quant_t for PoolKind.MEAN (1/count folded into the multiplier); 0 for AVERAGE
    *(name / Int32sl for name in ("input_zp", "output_zp", "multiplier", "shift")),
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

MulBlock = Struct(
    "header" / BlockHeader,
    "numel" / Int32ul,  #: elements of a and of the output
    "b_numel" / Int32ul,  #: elements of b: numel (same shape), the channels (a gate), or 1
    "constant" / Int32sl,  #: b when it is a constant scalar (the op has no b buffer), else 0
    #: tt_mul_quant_t, then tt_mul_grad_t
    *(name / Int32sl for name in ("input1_zp", "input2_zp", "output_zp", "multiplier", "shift", "act_min", "act_max",
                                  "a_multiplier", "a_shift", "b_multiplier", "b_shift")),
)

HardSwishBlock = Struct(
    "header" / BlockHeader,
    "numel" / Int32ul,
    #: tt_hard_swish_quant_t, then tt_hard_swish_grad_t
    *(name / Int32sl for name in ("input_zp", "output_zp", "output_multiplier", "output_exponent", "reluish_multiplier",
                                  "reluish_exponent", "grad_multiplier", "grad_shift", "grad_lo", "grad_hi")),
)

LogisticBlock = Struct(
    "header" / BlockHeader,
    "numel" / Int32ul,
    #: tt_logistic_quant_t (its input gradient needs nothing more)
    *(name / Int32sl for name in ("input_zp", "range_radius", "multiplier", "left_shift")),
)

RequantizeBlock = Struct(
    "header" / BlockHeader,
    "numel" / Int32ul,
    #: tt_requantize_quant_t, then LEAKY_RELU's slope for its input gradient (0 otherwise)
    *(name / Int32sl for name in ("input_zp", "output_zp", "multiplier", "shift", "negative_multiplier",
                                  "negative_shift", "act_min", "act_max", "alpha_multiplier", "alpha_shift")),
)

ConcatBlock = Struct(
    "header" / BlockHeader,
    "outer" / Int32ul,  #: rows: the elements before the axis
    "n_inputs" / Int32ul,  #: 1..4
    "inners" / Int32ul[4],  #: each input's row (the elements from the axis on); 0 past n_inputs
)

SliceBlock = Struct(
    "header" / BlockHeader,
    *(name / Int32ul for name in ("outer", "total", "offset", "inner")),  #: columns [offset, offset + inner) of total
)

PadBlock = Struct(
    "header" / BlockHeader,
    #: tt_pad_geom_t (the input's height, width, channels; the rows and columns added), then the fill
    *(name / Int32sl for name in ("in_h", "in_w", "c", "top", "left", "bottom", "right", "fill")),
)

BLOCKS = {ParamType.LAYER: LayerBlock, ParamType.ADD: AddBlock, ParamType.POOL: PoolBlock,
          ParamType.FUSED: FusedBlock, ParamType.LOSS: LossBlock, ParamType.MUL: MulBlock,
          ParamType.HARD_SWISH: HardSwishBlock, ParamType.REQUANTIZE: RequantizeBlock, ParamType.CONCAT: ConcatBlock,
          ParamType.SLICE: SliceBlock, ParamType.PAD: PadBlock, ParamType.LOGISTIC: LogisticBlock}


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
                         "y = tt_avgpool_fwd_s8(x) (a PoolKind.AVERAGE block)"),
    OpKind.MEAN: _sig(Phase.FORWARD, ("x:INT8",), ("y:INT8", "mask?:MASK"), ParamType.POOL,
                      "y = tt_mean_fwd_s8(x) (a PoolKind.MEAN block)"),
    OpKind.MAXPOOL: _sig(Phase.FORWARD, ("x:INT8",), ("y:INT8", "mask?:MASK"), ParamType.POOL,
                         "y = tt_maxpool_fwd_s8(x) (a PoolKind.MAX block)"),
    OpKind.MUL: _sig(Phase.FORWARD, ("a:INT8", "b?:INT8"), ("y:INT8", "mask?:MASK"), ParamType.MUL,
                     "y = tt_mul_fwd_s8(a, b or the block's constant); y may be a's buffer"),
    OpKind.HARD_SWISH: _sig(Phase.FORWARD, ("x:INT8",), ("y:INT8", "mask?:MASK"), ParamType.HARD_SWISH,
                            "y = tt_hard_swish_fwd_s8(x); y may be x's buffer"),
    OpKind.LOGISTIC: _sig(Phase.FORWARD, ("x:INT8",), ("y:INT8", "mask?:MASK"), ParamType.LOGISTIC,
                          "y = tt_logistic_fwd_s8(x); y may be x's buffer"),
    OpKind.REQUANTIZE: _sig(Phase.FORWARD, ("x:INT8",), ("y:INT8", "mask?:MASK"), ParamType.REQUANTIZE,
                            "y = tt_requantize_s8(x); y may be x's buffer"),
    OpKind.CONCAT: _sig(Phase.FORWARD, ("a:INT8", "b?:INT8", "c?:INT8", "d?:INT8"), ("y:INT8",), ParamType.CONCAT,
                        "y = tt_concat_s8(a, b, c, d): the first n_inputs slots, rows side by side"),
    OpKind.PAD: _sig(Phase.FORWARD, ("x:INT8",), ("y:INT8",), ParamType.PAD, "y = tt_pad_s8(x)"),
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
                                   "dx = tt_avgpool_bwd_input_s16(dy) (an average pool's or a mean's)"),
    OpKind.MAXPOOL_BWD_INPUT: _sig(Phase.BACKWARD, ("dy:INT16", "x:INT8"), ("dx:INT16",), ParamType.POOL,
                                   "dx = tt_maxpool_bwd_input_s16(x, dy): x is the forward input"),
    OpKind.MUL_BWD_A: _sig(Phase.BACKWARD, ("dy:INT16", "b?:INT8"), ("da:INT16",), ParamType.MUL,
                           "da = tt_mul_bwd_a_s16(dy, b or the constant)"),
    OpKind.MUL_BWD_B: _sig(Phase.BACKWARD, ("dy:INT16", "a:INT8"), ("db:INT16",), ParamType.MUL,
                           "db = tt_mul_bwd_b_s16(dy, a)"),
    OpKind.HARD_SWISH_BWD_INPUT: _sig(Phase.BACKWARD, ("dy:INT16", "x:INT8"), ("dx:INT16",), ParamType.HARD_SWISH,
                                      "dx = tt_hard_swish_bwd_input_s16(x, dy): x is the forward input"),
    OpKind.LOGISTIC_BWD_INPUT: _sig(Phase.BACKWARD, ("dy:INT16", "x:INT8"), ("dx:INT16",), ParamType.LOGISTIC,
                                    "dx = tt_logistic_bwd_input_s16(x, dy): x is the forward input"),
    OpKind.LEAKY_RELU_BWD_INPUT: _sig(Phase.BACKWARD, ("dy:INT16", "x:INT8"), ("dx:INT16",), ParamType.REQUANTIZE,
                                      "dx = tt_leaky_relu_bwd_input_s16(x, dy): x is the forward input"),
    OpKind.GRAD_CROP: _sig(Phase.BACKWARD, ("dy:INT16",), ("dx:INT16",), ParamType.PAD,
                           "dx = tt_crop_s16(dy), exponent too"),
    OpKind.GRAD_SLICE: _sig(Phase.BACKWARD, ("dy:INT16",), ("dx:INT16",), ParamType.SLICE,
                            "dx = tt_slice_s16(dy), exponent too"),
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
