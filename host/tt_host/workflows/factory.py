"""Factory provisioning: a board leaves the bench with its model's training plan in flash.

``tt-host flash --model M.tflite --samples DIR`` compiles the plan a stream of ``DIR`` would
compile for the board (same model, samples, settings and the board's limits from its
board.toml, which equal what its firmware reports: the same plan hash) and writes it into the
model area with the firmware, through the debug probe: SWD writes the ~0.5 MB of a 128x128
model's package in seconds, where the UART at 115,200 baud takes about a minute. The plan goes
into the host's cache too, so a later ``tt-host stream DIR`` finds it on the board and sends
only samples. An emulated twin is provisioned in its flash file (:mod:`tt_host.tooling.twin_flash`).
"""

from __future__ import annotations

from pathlib import Path

from tt_host.compiler.report import firmware_footprint
from tt_host.tooling.boards import Board
from tt_host.workflows import provision
from tt_host.workflows.cache import Cache, CachedPlan
from tt_host.workflows.stream import folder_plan


def board_limits(board: Board, firmware_sram: int, requested_sram: int | None = None) -> provision.DeviceLimits:
    """The limits ``board``'s firmware reports in INFO, from its board.toml."""
    sram = provision.effective_budget(requested_sram, board.arena_bytes + firmware_sram)
    return provision.DeviceLimits(sram, board.param_store_bytes, board.model_area_bytes)


def board_plan(board: Board, model: str | Path, folder: str | Path, cache: Cache,
               setup: provision.TrainingSetup | None = None, eval_split: float = 0.2) -> CachedPlan:
    """The plan ``tt-host stream folder`` would compile for ``board`` (found in the cache when
    the same inputs compiled it before)."""
    setup = setup or provision.TrainingSetup()
    limits = board_limits(board, firmware_footprint().sram, setup.budget)
    plan, _ = folder_plan(folder, cache, model, setup, limits, eval_split)
    return plan
