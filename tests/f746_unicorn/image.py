"""The firmware ELF as a programmer sees it: what goes into flash, where, and the addresses the
machine needs (the WFI instructions it must notice, the symbols a test inspects)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

WFI = 0xBF30  # Thumb encoding of WFI (ARMv7-M ARM A7.7.258, T1)


@dataclasses.dataclass(frozen=True)
class Image:
    path: Path
    #: (load address, bytes) of every loadable segment: what `tt-host flash` writes.
    segments: tuple[tuple[int, bytes], ...]
    symbols: dict[str, int]
    #: Candidate addresses of WFI: every aligned 0xBF30 halfword in executable sections. A
    #: halfword of data or of a 32-bit instruction may be among them; a code hook there never
    #: fires, since no instruction starts at it.
    wfi: tuple[int, ...]

    @classmethod
    def load(cls, path: Path) -> Image:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            segments = tuple((s["p_paddr"], s.data()) for s in elf.iter_segments()
                             if s["p_type"] == "PT_LOAD" and s["p_filesz"] > 0)
            symbols = {sym.name: sym["st_value"] for sym in elf.get_section_by_name(".symtab").iter_symbols()
                       if sym.name}
            wfi = []
            for section in elf.iter_sections():
                if section["sh_flags"] & SH_FLAGS.SHF_EXECINSTR and section["sh_type"] == "SHT_PROGBITS":
                    data, base = section.data(), section["sh_addr"]
                    wfi += [base + i for i in range(0, len(data) - 1, 2)
                            if int.from_bytes(data[i:i + 2], "little") == WFI]
        return cls(Path(path), segments, symbols, tuple(wfi))

    def symbol(self, name: str) -> int:
        return self.symbols[name] & ~1
