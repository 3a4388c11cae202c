"""Minimal read-only access to ``.tflite`` flatbuffers (tensors, quantization, operators).

Built on the schema bindings that the ``tflite-micro`` wheel ships
(``schema_py_generated``), so the field meanings are TFLite's own. This is the small core the
model importer builds on; it does not interpret the graph.
"""

from tt_host.tflite.reader import Model, Operator, Quantization, Tensor, load

__all__ = ["Model", "Operator", "Quantization", "Tensor", "load"]
