# Training kernels: one op and pass per file (tt_<op>_<pass>_<dtype>). Paths are relative to
# firmware/; included by firmware/CMakeLists.txt into TT_RUNTIME_SOURCES.
list(APPEND TT_RUNTIME_SOURCES
  kernels/tt_conv_geom.c
  kernels/tt_conv2d_fwd_s8.c
  kernels/tt_pw_conv2d_fwd_s8.c
  kernels/tt_dw_conv2d_fwd_s8.c
  kernels/tt_dw_conv2d_fwd_planar_s8.c
  kernels/tt_fc_fwd_s8.c
  kernels/tt_add_fwd_s8.c
  kernels/tt_avgpool_fwd_s8.c
  kernels/tt_maxpool_fwd_s8.c
  kernels/tt_mul_fwd_s8.c
  kernels/tt_hard_swish_fwd_s8.c
  kernels/tt_logistic_fwd_s8.c
  kernels/tt_requantize_s8.c
  kernels/tt_concat_s8.c
  kernels/tt_pad_s8.c
  kernels/tt_mean_fwd_s8.c
  kernels/tt_mask_pack_s8.c
  kernels/tt_mask_bwd_s16.c
  kernels/tt_conv2d_bwd_input_s16.c
  kernels/tt_pw_conv2d_bwd_input_s16.c
  kernels/tt_dw_conv2d_bwd_input_s16.c
  kernels/tt_fc_bwd_input_s16.c
  kernels/tt_avgpool_bwd_input_s16.c
  kernels/tt_maxpool_bwd_input_s16.c
  kernels/tt_mul_bwd_s16.c
  kernels/tt_hard_swish_bwd_input_s16.c
  kernels/tt_logistic_bwd_input_s16.c
  kernels/tt_add_bwd_input_s16.c
  kernels/tt_conv2d_bwd_weight_s16.c
  kernels/tt_pw_conv2d_bwd_weight_s16.c
  kernels/tt_dw_conv2d_bwd_weight_s16.c
  kernels/tt_fc_bwd_weight_s16.c
  kernels/tt_bias_bwd_s16.c
  kernels/tt_softmax_xent_s8.c
  kernels/tt_rng.c
  kernels/tt_sgd_update_s8.c
  kernels/tt_sgd_update_s32.c
  kernels/tt_sgd_scaled.c
)
# The loss is float32 and must round exactly like the numpy reference: no fused multiply-add
# (the Cortex-M7 FPU has VFMA, and GCC contracts by default outside strict ISO mode).
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/tt_softmax_xent_s8.c PROPERTIES COMPILE_OPTIONS "-ffp-contract=off")
# The forward and backward kernels' inner loops are the bulk of a training step: optimise
# them for speed even in size-optimised (MinSizeRel) board images, where -Os spills their
# accumulators and calls memcpy for the unaligned word reads.
set_source_files_properties(
  ${CMAKE_CURRENT_LIST_DIR}/tt_conv2d_fwd_s8.c
  ${CMAKE_CURRENT_LIST_DIR}/tt_pw_conv2d_fwd_s8.c
  ${CMAKE_CURRENT_LIST_DIR}/tt_dw_conv2d_fwd_s8.c
  ${CMAKE_CURRENT_LIST_DIR}/tt_dw_conv2d_fwd_planar_s8.c
  ${CMAKE_CURRENT_LIST_DIR}/tt_fc_fwd_s8.c
  ${CMAKE_CURRENT_LIST_DIR}/tt_add_fwd_s8.c
  ${CMAKE_CURRENT_LIST_DIR}/tt_pw_conv2d_bwd_input_overlay_s16.c
  ${CMAKE_CURRENT_LIST_DIR}/tt_dw_conv2d_bwd_input_s16.c
  ${CMAKE_CURRENT_LIST_DIR}/tt_dw_conv2d_fwd_inplace_s8.c
  ${CMAKE_CURRENT_LIST_DIR}/tt_pw_conv2d_fwd_inplace_s8.c
  ${CMAKE_CURRENT_LIST_DIR}/tt_dw_conv2d_bwd_input_inplace_s16.c
  ${CMAKE_CURRENT_LIST_DIR}/tt_fc_bwd_input_s16.c
  ${CMAKE_CURRENT_LIST_DIR}/tt_pw_conv2d_bwd_weight_s16.c
  ${CMAKE_CURRENT_LIST_DIR}/tt_pw_conv2d_bwd_weight_update_s8.c
  ${CMAKE_CURRENT_LIST_DIR}/tt_dw_conv2d_bwd_weight_s16.c
  ${CMAKE_CURRENT_LIST_DIR}/tt_fc_bwd_weight_s16.c
  ${CMAKE_CURRENT_LIST_DIR}/tt_mask_bwd_s16.c
  ${CMAKE_CURRENT_LIST_DIR}/tt_bias_bwd_s16.c
  PROPERTIES COMPILE_OPTIONS "-O2")
# Sparse-update and memory-saving kernels: channel gather, fused weight gradient + update,
# trainable-overlay forward, in-place depthwise/pointwise (and depthwise input gradient), fused
# inverted bottleneck.
list(APPEND TT_RUNTIME_SOURCES
  kernels/tt_gather_channels_s8.c
  kernels/tt_conv2d_bwd_weight_update_s8.c
  kernels/tt_pw_conv2d_bwd_weight_update_s8.c
  kernels/tt_dw_conv2d_bwd_weight_update_s8.c
  kernels/tt_fc_bwd_weight_update_s8.c
  kernels/tt_conv2d_fwd_overlay_s8.c
  kernels/tt_fc_fwd_overlay_s8.c
  kernels/tt_pw_conv2d_bwd_input_overlay_s16.c
  kernels/tt_dw_conv2d_fwd_inplace_s8.c
  kernels/tt_pw_conv2d_fwd_inplace_s8.c
  kernels/tt_dw_conv2d_bwd_input_inplace_s16.c
  kernels/tt_irb_fwd_s8.c
)
# The layer wrappers (tt/kernels/layer.h): the one place that picks among the variants above.
list(APPEND TT_RUNTIME_SOURCES kernels/tt_layer_wrappers.c)
