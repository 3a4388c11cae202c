"""The C plan executor (``tt/executor.h``) on a host arena, and the executor's own
temporaries (``tt_executor_temp_size``) for the planner."""

from __future__ import annotations

import ctypes as C

import numpy as np

from tt_host.native.abi import CConvGeom, CStepResult, _i32, _pu8
from tt_host.native.library import PROTOTYPES, load
from tt_host.reference.params import ConvGeom
from tt_host.reference.update import SCALE_ONE


_pex = C.c_void_p


PROTOTYPES.update({
    "tt_executor_load": (C.c_int, [_pex, _pu8, C.c_uint32, _pu8, C.c_uint32, C.POINTER(C.c_uint32)]),
    "tt_executor_load_blobs": (C.c_int, [_pex, _pu8, C.c_uint32, _pu8, C.c_uint32, _pu8, C.c_uint32,
                                         C.POINTER(C.c_uint32)]),
    "tt_executor_unload": (None, [_pex]),
    "tt_executor_input_bytes": (C.c_uint32, [_pex]),
    "tt_executor_feed": (C.c_int, [_pex, C.c_uint32, _pu8, C.c_uint32]),
    "tt_executor_step": (C.c_int, [_pex, C.c_uint32, C.c_bool, C.c_uint32, C.POINTER(CStepResult)]),
    "tt_executor_diverged": (C.c_bool, [_pex]),
    "tt_executor_classes": (C.c_uint32, [_pex]),
    "tt_executor_arena_used": (C.c_uint32, [_pex]),
    "tt_executor_params_bytes": (C.c_uint32, [_pex]),
    "tt_executor_params_read": (None, [_pex, C.c_uint32, _pu8, C.c_uint32]),
    "tt_executor_params_write": (C.c_int, [_pex, _pu8, C.c_uint32]),
    "tt_executor_temp_size": (C.c_uint32, [C.c_uint32, C.c_uint32, C.c_uint32, C.POINTER(CConvGeom), _i32, _i32]),
    "tt_executor_state_bytes": (C.c_uint32, []),
    "tt_abi_sizeof": (C.c_uint32, [C.c_char_p]),
})


def executor_temp_size(op_kind: int, op_flags: int, layer_kind: int, geom: ConvGeom, n_channels: int,
                       whole_slice: bool) -> int:
    """``tt_executor_temp_size``: bytes the executor takes from the start of an op's scratch."""
    cg = CConvGeom.of(geom)
    return int(load().tt_executor_temp_size(int(op_kind), int(op_flags), int(layer_kind), C.byref(cg), int(n_channels),
                                            int(bool(whole_slice))))


class Executor:
    """The C plan executor on a host arena: ``load`` a package (``blob.package``), then
    ``step`` samples. Keeps the package, arena and state alive; statuses come back as ints
    (``tt_protocol.status.Status``)."""

    def __init__(self, arena_bytes: int = 1 << 20) -> None:
        self.lib = load()
        self._state = (C.c_uint64 * -(-self.lib.tt_executor_state_bytes() // 8))()  # tt_executor_t, opaque here
        self.arena = np.zeros(-(-arena_bytes // 8), np.uint64).view(np.uint8)[:arena_bytes]
        self._package = None

    @property
    def _ex(self):
        return C.cast(self._state, C.c_void_p)

    def load(self, package: bytes, arena_limit: int | None = None) -> tuple[int, int]:
        """``(status, detail)`` of ``tt_executor_load`` on a 4-byte aligned copy of ``package``;
        ``arena_limit`` caps the arena size the executor is told about."""
        n = len(package)
        words = (C.c_uint32 * (-(-n // 4) or 1))()
        C.memmove(words, bytes(package), n)
        self._package = words
        detail = C.c_uint32(0)
        limit = self.arena.size if arena_limit is None else min(arena_limit, self.arena.size)
        status = self.lib.tt_executor_load(self._ex, C.cast(words, _pu8), n, self.arena.ctypes.data_as(_pu8), limit,
                                           C.byref(detail))
        return int(status), int(detail.value)

    def load_blobs(self, plan: bytes, weights: bytes, arena_limit: int | None = None) -> tuple[int, int]:
        """``tt_executor_load_blobs`` with the two blobs in separate aligned buffers."""
        bufs = []
        for blob in (plan, weights):
            words = (C.c_uint32 * (-(-len(blob) // 4) or 1))()
            C.memmove(words, bytes(blob), len(blob))
            bufs.append(words)
        self._package = bufs
        detail = C.c_uint32(0)
        limit = self.arena.size if arena_limit is None else min(arena_limit, self.arena.size)
        status = self.lib.tt_executor_load_blobs(self._ex, C.cast(bufs[0], _pu8), len(plan), C.cast(bufs[1], _pu8),
                                                 len(weights), self.arena.ctypes.data_as(_pu8), limit, C.byref(detail))
        return int(status), int(detail.value)

    @property
    def input_bytes(self) -> int:
        return int(self.lib.tt_executor_input_bytes(self._ex))

    def feed(self, image, chunk: int | None = None) -> int:
        """Feed ``image`` (int8, the plan's input size) in pieces of ``chunk`` bytes (all at
        once by default), as SAMPLE_DATA frames do; the first status that is not OK, else OK."""
        x = np.ascontiguousarray(image, np.int8).ravel().view(np.uint8)
        step = chunk or max(x.size, 1)
        for at in range(0, x.size, step):
            piece = x[at:at + step]
            status = int(self.lib.tt_executor_feed(self._ex, at, piece.ctypes.data_as(_pu8), piece.size))
            if status:
                return status
        return 0

    def step(self, image, label: int, train: bool = True, chunk: int | None = None,
             lr_scale: int = SCALE_ONE) -> tuple[int, CStepResult]:
        """Feed ``image`` (in ``chunk``-byte pieces; None: feed nothing) and run one step at
        ``lr_scale`` (Q16) of the plan's rates: ``(status, result)``."""
        if image is not None:
            self.feed(image, chunk)
        result = CStepResult()
        status = self.lib.tt_executor_step(self._ex, label, train, lr_scale, C.byref(result))
        return int(status), result

    @property
    def diverged(self) -> bool:
        return bool(self.lib.tt_executor_diverged(self._ex))

    @property
    def arena_used(self) -> int:
        return int(self.lib.tt_executor_arena_used(self._ex))

    @property
    def classes(self) -> int:
        return int(self.lib.tt_executor_classes(self._ex))

    def params(self) -> bytes:
        """The whole parameter image (``tt_executor_params_read``)."""
        n = int(self.lib.tt_executor_params_bytes(self._ex))
        out = (C.c_uint8 * max(n, 1))()
        self.lib.tt_executor_params_read(self._ex, 0, out, n)
        return bytes(out)[:n]

    def params_window(self, offset: int, length: int, fill: int = 0xA5) -> bytes:
        out = (C.c_uint8 * max(length, 1))(*([fill] * max(length, 1)))
        self.lib.tt_executor_params_read(self._ex, offset, out, length)
        return bytes(out)[:length]

    def params_write(self, image: bytes) -> int:
        buf = (C.c_uint8 * max(len(image), 1)).from_buffer_copy(bytes(image) or b"\0")
        return int(self.lib.tt_executor_params_write(self._ex, buf, len(image)))
