"""Numpy reference of every tt kernel, bit-exact with the C library (``libtt``).

``fixedpoint``: TFLite's requantization arithmetic. ``params``: the geometry and
quantization structs and their derivation from TFLite scales. ``forward``: the int8 forward
kernels. ``graph``: runs a whole ``.tflite`` model through these kernels (PAD folded into
the following convolution) so it can be compared with TFLite Micro tensor by tensor.
``backward``: float reference gradients (to measure the integer path against).
``backward_int``: the int16 backward kernels (gradient representation and exponent policy are
documented there). ``loss``: softmax cross-entropy in bit-reproducible float32. ``update``:
SGD with QAS and stochastic rounding, and the shared PRNG. ``vectors``: the C golden vectors.
"""

from tt_host.reference.forward import (
    add_fwd_s8,
    avgpool_fwd_s8,
    conv2d_fwd_s8,
    dw_conv2d_fwd_s8,
    fc_fwd_s8,
    maxpool_fwd_s8,
    mean_fwd_s8,
    pw_conv2d_fwd_s8,
)
from tt_host.reference.params import AddQuant, ConvGeom, ConvQuant, MeanQuant, PoolQuant, activation_range

__all__ = [
    "AddQuant",
    "ConvGeom",
    "ConvQuant",
    "MeanQuant",
    "PoolQuant",
    "activation_range",
    "add_fwd_s8",
    "avgpool_fwd_s8",
    "conv2d_fwd_s8",
    "dw_conv2d_fwd_s8",
    "fc_fwd_s8",
    "maxpool_fwd_s8",
    "mean_fwd_s8",
    "pw_conv2d_fwd_s8",
]
