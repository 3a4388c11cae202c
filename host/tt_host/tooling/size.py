"""How much flash and SRAM a firmware image takes, against the board's budget.

Every allocated section (``SHF_ALLOC``) is charged by address, not by name, so the
numbers stay right whatever the linker script calls its sections:

- flash pays for the bytes stored in the image whose *load* address (LMA) is in flash:
  ``.text``, ``.rodata``, ``.ARM.exidx`` and the initial values of ``.data``;
- SRAM pays for every section whose *run* address (VMA) is in SRAM, stored or not:
  ``.data``, ``.bss``, the ``NOLOAD`` training arena, stack and heap.

``.data`` therefore counts twice, once in each memory, as it really does.

The image is not all that the flash holds. The board's layout (``board.toml``) reserves the
internal flash's last sectors for the model area, where an uploaded package is read every
training step, and keeps the A/B parameter store in an external flash: the report charges
the model area to the internal flash next to the image, and the store to the external one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from tt_host.tooling.boards import Board
from tt_host.errors import BudgetExceeded, UsageError


@dataclasses.dataclass(frozen=True)
class Region:
    """A memory of the board: ``size`` bytes from ``base``."""

    name: str
    base: int
    size: int

    def __contains__(self, address: int) -> bool:
        return self.base <= address < self.base + self.size


@dataclasses.dataclass(frozen=True)
class Section:
    """An allocated ELF section."""

    name: str
    address: int  #: VMA: where the code runs or the data lives
    load_address: int  #: LMA: where its initial bytes are stored
    size: int
    stored: bool  #: has bytes in the image (False for NOBITS: .bss, NOLOAD)


@dataclasses.dataclass(frozen=True)
class SectionUsage:
    """A section and the bytes it costs in each memory."""

    section: Section
    flash: int
    sram: int


@dataclasses.dataclass(frozen=True)
class SizeReport:
    """Memory use of one image on one board."""

    board: str
    elf: Path
    sections: list[SectionUsage]
    flash: Region
    sram: Region
    model_area_bytes: int = 0  #: internal flash reserved for an uploaded package
    external_flash: Region | None = None  #: the flash that holds the parameter store (None: none)
    store_area_bytes: int = 0  #: bytes of it the store's two slots take

    @property
    def flash_used(self) -> int:
        """Flash bytes of the image."""
        return sum(u.flash for u in self.sections)

    @property
    def flash_reserved(self) -> int:
        """Internal flash in use or reserved: the image and the model area."""
        return self.flash_used + self.model_area_bytes

    @property
    def sram_used(self) -> int:
        return sum(u.sram for u in self.sections)

    @property
    def arena_bytes(self) -> int:
        """Size of the static training arena (sections named ``*arena*``)."""
        return sum(u.section.size for u in self.sections if "arena" in u.section.name)

    def overflows(self) -> list[str]:
        """One message per memory the image does not fit in (empty when it fits)."""
        out = []
        for region, used in ((self.flash, self.flash_used), (self.sram, self.sram_used)):
            if used > region.size:
                out.append(f"{region.name}: {used} bytes used, budget {region.size}, over by {used - region.size}")
        if self.flash_used <= self.flash.size < self.flash_reserved:
            out.append(f"{self.flash.name}: the image's {self.flash_used} bytes run into the model area "
                       f"({self.model_area_bytes} bytes at the end of {self.flash.size}), "
                       f"over by {self.flash_reserved - self.flash.size}")
        if self.external_flash is not None and self.store_area_bytes > self.external_flash.size:
            out.append(f"{self.external_flash.name}: the parameter store's {self.store_area_bytes} bytes exceed its "
                       f"{self.external_flash.size}")
        return out

    def check(self) -> None:
        """Raise :class:`BudgetExceeded` when the image does not fit the board."""
        overflows = self.overflows()
        if overflows:
            raise BudgetExceeded(f"{self.elf.name} does not fit {self.board}: " + "; ".join(overflows))

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary with every section."""
        return {
            "board": self.board,
            "elf": str(self.elf),
            "flash_used": self.flash_used,
            "flash_bytes": self.flash.size,
            "sram_used": self.sram_used,
            "sram_bytes": self.sram.size,
            "arena_bytes": self.arena_bytes,
            "model_area_bytes": self.model_area_bytes,
            "flash_reserved": self.flash_reserved,
            "external_flash_bytes": self.external_flash.size if self.external_flash else 0,
            "store_area_bytes": self.store_area_bytes,
            "sections": [{**dataclasses.asdict(u.section), "flash": u.flash, "sram": u.sram} for u in self.sections],
        }


def read_sections(elf: Path) -> list[Section]:
    """The allocated, non-empty sections of ``elf``, with their load addresses."""
    try:
        with elf.open("rb") as f:
            image = ELFFile(f)
            segments = [s for s in image.iter_segments() if s["p_type"] == "PT_LOAD"]
            sections = []
            for sec in image.iter_sections():
                if not sec["sh_flags"] & SH_FLAGS.SHF_ALLOC or sec["sh_size"] == 0:
                    continue
                vma = sec["sh_addr"]
                # The LMA is only in the program headers: offset the section within its segment.
                seg = next((s for s in segments if s.section_in_segment(sec)), None)
                lma = vma if seg is None else seg["p_paddr"] + (vma - seg["p_vaddr"])
                sections.append(Section(sec.name, vma, lma, sec["sh_size"], sec["sh_type"] != "SHT_NOBITS"))
            return sections
    except (OSError, ELFError) as exc:
        raise UsageError(f"cannot read {elf}: {exc}") from exc


def classify(sections: Iterable[Section], flash: Region, sram: Region) -> list[SectionUsage]:
    """Charge each section to flash (stored bytes loaded there) and SRAM (run address there)."""
    return [
        SectionUsage(
            s,
            flash=s.size if s.stored and s.load_address in flash else 0,
            sram=s.size if s.address in sram else 0,
        )
        for s in sections
    ]


def regions(board: Board) -> tuple[Region, Region]:
    """The flash and SRAM regions of ``board`` from its ``board.toml``."""
    return Region("flash", board.flash_base, board.flash_bytes), Region("sram", board.sram_base, board.sram_bytes)


def external_flash(board: Board) -> Region | None:
    """The external flash of ``board`` (``[external_flash]``), None when it has none."""
    if not board.external_flash_bytes:
        return None
    return Region("external flash", board.external_flash_base or 0, board.external_flash_bytes)


def size_report(board: Board, elf: Path) -> SizeReport:
    """Measure ``elf`` against ``board``'s memories."""
    if board.native:
        raise UsageError(f"{board.name} runs as a process of this computer, whose sizes are not the MCU's: "
                         f"measure the image of the board it stands in for (--board {board.emulator_of or 'f746'})")
    flash, sram = regions(board)
    return SizeReport(board.name, elf, classify(read_sections(elf), flash, sram), flash, sram,
                      model_area_bytes=board.model_area_bytes, external_flash=external_flash(board),
                      store_area_bytes=board.store_area_bytes)
