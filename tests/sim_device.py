"""A device for host tests: the protocol's device model with the numpy plan executor.

``tt_protocol.responder.Responder`` answers every request as the firmware does (a test checks
it byte for byte against the firmware's endpoint); behind it, :class:`PlannedExecutor` runs a
loaded plan with ``tt_host.compiler.simulate.planned``, which is bit-exact with the firmware's
executor. Streaming, resuming and pulling can so be tested end to end without an emulator.
The model keeps no time: ticks and stack figures are zero.
"""

from __future__ import annotations

import numpy as np
from tt_protocol import plan as P
from tt_protocol.plan import OpKind, Phase
from tt_protocol.responder import BoardIdentity, Responder, split_package
from tt_protocol.status import Status

from tt_host.compiler import simulate
from tt_host.tooling.boards import resolve

_F746 = resolve("f746-qemu")
#: A simulated F746: the memory of the f746-qemu board.toml.
BOARD = BoardIdentity("f746-sim", _F746.sram_bytes, _F746.flash_bytes, _F746.arena_bytes, 216_000_000)


class PlannedExecutor:
    """The executor interface ``Responder`` expects, on the numpy simulation."""

    def __init__(self, arena_bytes: int) -> None:
        self.arena_bytes = arena_bytes
        self.machine: simulate.Machine | None = None
        #: labels of every training step executed, in order: proves none ran twice
        self.trained_labels: list[int] = []
        self.evaluations = 0

    def load(self, package: bytes) -> tuple[Status, int]:
        plan, weights = split_package(package)
        try:
            self.header = P.validate(plan, weights, arena_limit=self.arena_bytes).header
        except P.PlanInvalid as exc:
            return Status.BAD_PLAN, int(exc.check)
        self.machine = simulate.planned(plan, weights)
        return Status.OK, 0

    @property
    def input_bytes(self) -> int:
        return self.header.input_h * self.header.input_w * self.header.input_c

    @property
    def classes(self) -> int:
        return self.header.n_classes

    @property
    def arena_used(self) -> int:
        return self.header.arena_bytes

    def step(self, sample: bytes, label: int, train: bool, lr_scale: int) -> tuple[float, int, bool, bool]:
        h, m = self.header, self.machine
        image = np.frombuffer(sample, np.int8).reshape(h.input_h, h.input_w, h.input_c)
        result = m.step(image, label, train, lr_scale)  # evaluation: parameters and PRNG untouched
        if train:
            self.trained_labels.append(label)
        else:
            self.evaluations += 1
        return float(result.loss), int(result.predicted), bool(result.correct), result.skipped

    @property
    def diverged(self) -> bool:
        return self.machine.diverged

    def _loads(self) -> list:
        return [op for op in self.machine.ops if op.phase == Phase.LOAD]

    def params_image(self) -> bytes:
        """``tt_executor_params_read``: trained slices and biases in op order, then the PRNG counter."""
        data = b"".join(self.machine.store.get(op.outs[0]).astype("<i4" if op.kind == OpKind.LOAD_BIAS else np.int8)
                        .tobytes() for op in self._loads())
        return data + self.machine.rng.counter.to_bytes(4, "little")

    def restore(self, image: bytes) -> None:
        at = 0
        for op in self._loads():
            size = self.machine.store.buffers[op.outs[0]].size
            dtype = "<i4" if op.kind == OpKind.LOAD_BIAS else np.int8
            self.machine.store.put(op.outs[0], np.frombuffer(image, dtype, size // np.dtype(dtype).itemsize, at))
            at += size
        self.machine.rng.counter = int.from_bytes(image[at:at + 4], "little")


class SimDevice(Responder):
    """A simulated board: ``feed(wire bytes) -> answer bytes``, plus test hooks."""

    def __init__(self, model_area_bytes: int | None = None, store_capacity: int | None = None) -> None:
        self.planned = PlannedExecutor(BOARD.arena_bytes)
        kwargs = {} if model_area_bytes is None else {"model_area_bytes": model_area_bytes}
        if store_capacity is not None:
            kwargs["store_capacity"] = store_capacity
        super().__init__(BOARD, executor=self.planned, **kwargs)

    @property
    def trained_labels(self) -> list[int]:
        return self.planned.trained_labels

    @property
    def evaluations(self) -> int:
        return self.planned.evaluations

    def image(self) -> bytes:
        return self.planned.params_image()

    def power_cycle(self) -> None:
        """Cut the power and boot: RAM is lost; the model area and the store stay."""
        self._boot()
