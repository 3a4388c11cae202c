"""ctypes access to the host build of the C runtime (``build/host/firmware/libtt.so``).

One module per job, each lining up with the C it binds: :mod:`.library` builds and loads the
library, :mod:`.abi` mirrors its structs, :mod:`.kernels` wraps the training kernels,
:mod:`.sparse` the sparse-update and memory-saving ones, :mod:`.layers` the layer wrappers (the
one place a kernel variant is chosen; the planner asks their scratch sizes), :mod:`.executor`
the plan executor. Everything is re-exported here: callers write ``native.load()``,
``native.Executor``, ``native.conv2d_fwd_s8``.
"""

from __future__ import annotations

from tt_host.native.library import (  # noqa: F401 (re-exported)
    PROTOTYPES,
    BUILD_DIR,
    LIBRARY,
    build,
    load,
)
from tt_host.native.abi import (  # noqa: F401 (re-exported)
    KernelCtx,
    CConvGeom,
    CFcGeom,
    CConvQuant,
    CAddQuant,
    CPoolQuant,
    CGradQuant,
    CLogitQuant,
    CRng,
    CSgd,
    CQas,
    CWeightSlice,
    CIrbGeom,
    CIrbQuant,
    CIrbProgress,
    CIrbWeights,
    CStepResult,
    CWeightsView,
    ABI_MIRRORS,
    c_sizeof,
    CGradS16,
    CChannels,
    CBwdWeightParams,
    CUpdate,
    CIrbRows,
    CMeanQuant,
)
from tt_host.native.kernels import (  # noqa: F401 (re-exported)
    conv_geom_check,
    scratch_size,
    conv2d_fwd_s8,
    pw_conv2d_fwd_s8,
    dw_conv2d_fwd_s8,
    fc_fwd_s8,
    add_fwd_s8,
    avgpool_fwd_s8,
    mean_fwd_s8,
    mask_pack_s8,
    mask_bwd_s16,
    conv2d_bwd_input_s16,
    pw_conv2d_bwd_input_s16,
    dw_conv2d_bwd_input_s16,
    fc_bwd_input_s16,
    avgpool_bwd_input_s16,
    add_bwd_input_s16,
    conv2d_bwd_weight_s16,
    pw_conv2d_bwd_weight_s16,
    dw_conv2d_bwd_weight_s16,
    fc_bwd_weight_s16,
    bias_bwd_s16,
    softmax_xent_s8,
    expf_neg,
    logf_ge1,
    rng_draw,
    sgd_update_s8,
    sgd_update_s32,
    sgd_scaled,
    bwd_weight_params,
    grad_s16,
)
from tt_host.native.sparse import (  # noqa: F401 (re-exported)
    gather_channels_s8,
    conv2d_bwd_weight_update_s8,
    pw_conv2d_bwd_weight_update_s8,
    dw_conv2d_bwd_weight_update_s8,
    fc_bwd_weight_update_s8,
    conv2d_fwd_overlay_s8,
    pw_conv2d_bwd_input_overlay_s16,
    fc_fwd_overlay_s8,
    dw_conv2d_fwd_inplace_s8,
    pw_conv2d_fwd_inplace_s8,
    inplace_supported,
    dw_conv2d_bwd_input_inplace_s16,
    dw_bwd_input_inplace_supported,
    irb_geom_check,
    irb_fwd_s8_scratch_size,
    irb_can_alias,
    irb_rows_span,
    irb_fwd_s8_streamed,
    irb_fwd_s8,
)
from tt_host.native.layers import (  # noqa: F401 (re-exported)
    LAYER_KINDS,
    LAYER_PASSES,
    SCRATCH_UNSUPPORTED,
    layer_scratch_size,
    layer_fwd,
    layer_bwd_input,
)
from tt_host.native.executor import (  # noqa: F401 (re-exported)
    executor_temp_size,
    Executor,
)
