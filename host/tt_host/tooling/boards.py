"""Boards: the ``boards/<name>/board.toml`` files, read into :class:`Board` records.

Three kinds: a physical board (``f746-disco``), flashed through its probe; its emulated
twin (``f746-qemu``: ``emulated = true``, ``emulator_of``, a ``[qemu]`` machine), the same
image run by QEMU; and a host twin (``host``: emulated too, with a ``[native]`` table),
the same firmware built for this computer and run as a process (UART = TCP socket,
flash = file), which ``[native]`` describes by its executable (``image``) and the CMake
target that builds it (``cmake_target``). ``f746-disco``'s twin stays ``f746-qemu``.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from tt_host import paths
from tt_host.errors import UsageError

#: Region bases used when ``board.toml`` does not give them (the STM32F7 memory map).
DEFAULT_FLASH_BASE = 0x08000000
DEFAULT_SRAM_BASE = 0x20000000


@dataclasses.dataclass(frozen=True)
class Board:
    """One board, as described by its ``board.toml``."""

    name: str
    description: str
    mcu: str
    cmake_preset: str
    sram_bytes: int
    flash_bytes: int
    arena_bytes: int  #: the static training arena (CMake sizes the image's from this)
    model_area_bytes: int  #: flash for an uploaded package (plan + weights)
    model_area_offset: int  #: where the model area starts, from the flash base
    param_store_bytes: int  #: the largest COMMIT record (trained parameters) the A/B store holds
    flash_base: int
    sram_base: int
    baud: int
    path: Path
    #: UART rates negotiated after HELLO, highest first (``[uart] rates``; empty: none)
    rates: tuple[int, ...] = ()  #: the board's folder
    aliases: tuple[str, ...] = ()
    emulated: bool = False
    emulator_of: str | None = None  #: the physical board an emulated board stands in for
    qemu_machine: str | None = None
    qemu_cpu: str = "cortex-m7"
    pyocd_target: str | None = None
    openocd_config: str | None = None
    native: bool = False  #: a host twin: the firmware as a process of this computer (``[native]``)
    image: str = "tt-firmware.elf"  #: file name of the built firmware
    cmake_target: str | None = None  #: build only this target of the preset (None: all of it)
    #: The external flash that holds the A/B parameter store (``[external_flash]``): where it is
    #: mapped (None: not in the MCU's address space, as on the host twin), its bytes, and the
    #: bytes of it the store's two slots take. 0 bytes: no external flash.
    external_flash_part: str = ""
    external_flash_base: int | None = None
    external_flash_bytes: int = 0
    store_area_bytes: int = 0

    @property
    def root(self) -> Path:
        """The SDK this board belongs to (the checkout, or the one inside the installed package)."""
        return self.path.parents[1]

    @property
    def build_dir(self) -> Path:
        """Where its CMake preset builds (``tt_host.paths.build_dir``)."""
        return paths.build_dir(self.cmake_preset, self.root)

    @property
    def elf_path(self) -> Path:
        """Where the build writes the firmware image (a host twin's: its executable)."""
        return self.build_dir / "boards" / self.name / self.image

    @classmethod
    def from_toml(cls, path: Path) -> Board:
        """Read one ``board.toml``; a missing required key is a :class:`UsageError`."""
        with path.open("rb") as f:
            data = tomllib.load(f)
        try:
            memory, qemu, flash = data["memory"], data.get("qemu", {}), data.get("flash", {})
            external = data.get("external_flash", {})
            native = data.get("native")
            return cls(
                name=data["name"],
                description=data.get("description", ""),
                mcu=data.get("mcu", ""),
                cmake_preset=data.get("cmake_preset", data["name"]),
                sram_bytes=int(memory["sram_bytes"]),
                flash_bytes=int(memory["flash_bytes"]),
                arena_bytes=int(memory["arena_bytes"]),
                model_area_bytes=int(memory["model_area_bytes"]),
                model_area_offset=int(memory["model_area_offset"]),
                param_store_bytes=int(memory["param_store_bytes"]),
                flash_base=int(memory.get("flash_base", DEFAULT_FLASH_BASE)),
                sram_base=int(memory.get("sram_base", DEFAULT_SRAM_BASE)),
                baud=int(data.get("uart", {}).get("baud", 115200)),
                rates=tuple(sorted((int(r) for r in data.get("uart", {}).get("rates", ())), reverse=True)),
                path=path.parent.resolve(),
                aliases=tuple(data.get("aliases", ())),
                emulated=bool(data.get("emulated", False)),
                emulator_of=data.get("emulator_of"),
                qemu_machine=qemu.get("machine"),
                qemu_cpu=qemu.get("cpu", "cortex-m7"),
                pyocd_target=flash.get("pyocd_target"),
                openocd_config=flash.get("openocd_config"),
                native=native is not None,
                image=(native or {}).get("image", "tt-firmware.elf"),
                cmake_target=(native or {}).get("cmake_target"),
                external_flash_part=external.get("part", ""),
                external_flash_base=external.get("base"),
                external_flash_bytes=int(external.get("bytes", 0)),
                store_area_bytes=int(external.get("store_area_bytes", 0)),
            )
        except KeyError as exc:
            raise UsageError(f"{path}: missing key {exc}") from exc


def load_boards(root: Path | None = None) -> dict[str, Board]:
    """Every board of the repository, by name."""
    # paths.REPO_ROOT looked up at call time, so that tests can point it elsewhere.
    boards_dir = (root or paths.REPO_ROOT) / "boards"
    boards = [Board.from_toml(p) for p in sorted(boards_dir.glob("*/board.toml"))]
    return {b.name: b for b in boards}


def resolve(name: str, root: Path | None = None) -> Board:
    """The board called ``name`` or aliased so (``f746`` is ``f746-disco``)."""
    boards = load_boards(root)
    if name in boards:
        return boards[name]
    for board in boards.values():
        if name in board.aliases:
            return board
    known = ", ".join(sorted(boards)) or "none (no boards/*/board.toml found)"
    raise UsageError(f"unknown board {name!r}; known boards: {known}")


def emulated_twin(board: Board, root: Path | None = None) -> Board:
    """The emulated stand-in of a physical board (``f746-disco`` -> ``f746-qemu``);
    an emulated board is its own twin. Where a board has both an emulator twin and a host
    twin (``host``), the emulator's is the one: it runs the very image the board does."""
    if board.emulated:
        return board
    twins = [b for b in load_boards(root or board.root).values() if b.emulator_of == board.name]
    if not twins:
        raise UsageError(f"board {board.name!r} has no emulated twin")
    return min(twins, key=lambda b: b.native)
