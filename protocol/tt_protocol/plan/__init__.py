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

One module per job, each beside the C it mirrors: :mod:`.format` (constants, enums, structs,
signatures; ``tt/plan_gen.h``), :mod:`.validate` (``firmware/src/plan_check.c``, same checks in
the same order) and :mod:`.blocks` (the parameter pool; ``plan_check_blocks.c``), :mod:`.corpus`
(the corruption corpus), :mod:`.deltas` (the deltas file). Everything is re-exported here: ``from tt_protocol import plan as P; P.validate(...)``.
"""

from __future__ import annotations

from .format import (  # noqa: F401 (re-exported)
    SIGNATURES,
    PLAN_MAGIC,
    WEIGHTS_MAGIC,
    DELTAS_MAGIC,
    FORMAT_VERSION,
    ALIGN,
    NONE16,
    NONE32,
    CRC_START,
    MAX_BUFFERS,
    MAX_OPS,
    MAX_CLASSES,
    MAX_CHANNELS,
    MAX_LABEL_BYTES,
    MAX_TENSORS,
    SCHEME_NAME_BYTES,
    align,
    Phase,
    DType,
    BufferKind,
    OpKind,
    ParamType,
    LayerKind,
    PoolKind,
    LayerFlag,
    OpFlag,
    TensorKind,
    Check,
    PlanInvalid,
    PlanHeader,
    PLAN_HEADER_BYTES,
    BufferRecord,
    OpRecord,
    LabelRecord,
    BlockHeader,
    Geometry,
    LayerBlock,
    LAYER_FIXED_BYTES,
    AddBlock,
    PoolBlock,
    MulBlock,
    HardSwishBlock,
    LogisticBlock,
    RequantizeBlock,
    ConcatBlock,
    SliceBlock,
    PadBlock,
    FusedBlock,
    LossBlock,
    BLOCKS,
    layer_array_counts,
    layer_block_bytes,
    Role,
    RECOMPUTABLE,
    Signature,
    FORWARD_OF,
    BWD_INPUT_OF,
    WeightsHeader,
    WEIGHTS_HEADER_BYTES,
    TensorRecord,
    seal,
    plan_hash,
    name_bytes,
    build_labels,
    parse_labels,
)
from .blocks import (  # noqa: F401 (re-exported)
    geometry_problem,
    weight_in_channels,
    weight_count,
    slice_count,
)
from .validate import (  # noqa: F401 (re-exported)
    validate_weights,
    Validated,
    validate,
)
from .corpus import (  # noqa: F401 (re-exported)
    Corruption,
    patch,
    corruptions,
)
from .deltas import (  # noqa: F401 (re-exported)
    DeltasHeader,
    DELTAS_HEADER_BYTES,
    HeadRecord,
    DeltaFlag,
    DeltaRecord,
    Delta,
    Head,
    Deltas,
    build_deltas,
    parse_deltas,
)
