/**
 * @file kernels/kernels.h
 * @brief All int8 training kernels (one header per op under tt/kernels/).
 */
#ifndef TT_KERNELS_H
#define TT_KERNELS_H

#include "tt/kernels/add.h"
#include "tt/kernels/avgpool.h"
#include "tt/kernels/bias.h"
#include "tt/kernels/concat.h"
#include "tt/kernels/conv2d.h"
#include "tt/kernels/dw_conv2d.h"
#include "tt/kernels/fc.h"
#include "tt/kernels/gather.h"
#include "tt/kernels/hard_swish.h"
#include "tt/kernels/logistic.h"
#include "tt/kernels/irb.h"
#include "tt/kernels/layer.h"
#include "tt/kernels/loss.h"
#include "tt/kernels/mask.h"
#include "tt/kernels/maxpool.h"
#include "tt/kernels/mean.h"
#include "tt/kernels/mul.h"
#include "tt/kernels/pad.h"
#include "tt/kernels/pw_conv2d.h"
#include "tt/kernels/requantize.h"
#include "tt/kernels/sgd.h"
#include "tt/kernels/types.h"

#endif /* TT_KERNELS_H */
