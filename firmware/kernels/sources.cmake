# Training kernels: one op and pass per file (tt_<op>_<pass>_<dtype>). Paths are relative to
# firmware/; included by firmware/CMakeLists.txt into TT_RUNTIME_SOURCES.
list(APPEND TT_RUNTIME_SOURCES
  kernels/tt_conv_geom.c
  kernels/tt_conv2d_fwd_s8.c
  kernels/tt_pw_conv2d_fwd_s8.c
  kernels/tt_dw_conv2d_fwd_s8.c
  kernels/tt_fc_fwd_s8.c
  kernels/tt_add_fwd_s8.c
  kernels/tt_avgpool_fwd_s8.c
)
