"""Image size against the board budget: section classification, and a real ELF."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tt_host.tooling.boards import resolve
from tt_host.cli.app import app
from tt_host.errors import BudgetExceeded, UsageError
from tt_host.tooling.size import Region, Section, SizeReport, classify, read_sections, size_report

FLASH = Region("flash", 0x08000000, 1024 * 1024)
SRAM = Region("sram", 0x20000000, 320 * 1024)


def test_sections_are_charged_by_address() -> None:
    sections = [
        Section(".isr_vector", 0x08000000, 0x08000000, 0x1C8, stored=True),
        Section(".text", 0x080001C8, 0x080001C8, 30000, stored=True),
        Section(".ARM.exidx", 0x08007700, 0x08007700, 8, stored=True),
        Section(".data", 0x20000000, 0x08007708, 100, stored=True),  # runs in SRAM, stored in flash
        Section(".bss", 0x20000064, 0x20000064, 2000, stored=False),
        Section(".arena", 0x20001000, 0x20001000, 200 * 1024, stored=False),  # NOLOAD
        Section(".itcm", 0x00000000, 0x08007770, 64, stored=True),  # elsewhere at run time
    ]
    usage = {u.section.name: (u.flash, u.sram) for u in classify(sections, FLASH, SRAM)}
    assert usage == {
        ".isr_vector": (0x1C8, 0),
        ".text": (30000, 0),
        ".ARM.exidx": (8, 0),
        ".data": (100, 100),
        ".bss": (0, 2000),
        ".arena": (0, 200 * 1024),
        ".itcm": (64, 0),
    }


_C_SOURCE = """
const unsigned char table[4096] = {1};
unsigned int counter = 7;
unsigned int zeros[256];
__attribute__((section(".arena"))) unsigned char arena[ARENA];
void Reset_Handler(void) { for (;;) { counter += table[counter & 4095] + zeros[counter & 255] + arena[counter]; } }
"""

_LINKER_SCRIPT = """
MEMORY { FLASH (rx) : ORIGIN = 0x08000000, LENGTH = 1M
         RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 320K }
ENTRY(Reset_Handler)
SECTIONS {
  .text : { *(.text*) *(.rodata*) } > FLASH
  .data : { *(.data*) } > RAM AT > FLASH
  .bss (NOLOAD) : { *(.bss*) *(COMMON) } > RAM
  .arena (NOLOAD) : { *(.arena) } > RAM
}
"""


@pytest.fixture
def tiny_elf(tmp_path: Path):
    """Link a 4 KB-rodata, 4-byte-data, 1 KB-bss image with an ``arena`` of the given size."""
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("needs arm-none-eabi-gcc (apt-get install gcc-arm-none-eabi)")

    def link(arena: int) -> Path:
        (tmp_path / "tiny.c").write_text(_C_SOURCE)
        (tmp_path / "tiny.ld").write_text(_LINKER_SCRIPT)
        elf = tmp_path / f"tiny-{arena}.elf"
        subprocess.run(
            ["arm-none-eabi-gcc", "-mcpu=cortex-m7", "-mthumb", "-Os", "-nostdlib", f"-DARENA={arena}",
             "-T", "tiny.ld", "tiny.c", "-o", elf.name],
            cwd=tmp_path, check=True,
        )  # fmt: skip
        return elf

    return link


def test_real_elf_sections(tiny_elf) -> None:
    sections = {s.name: s for s in read_sections(tiny_elf(64 * 1024))}
    assert set(sections) == {".text", ".data", ".bss", ".arena"}
    data = sections[".data"]
    assert data.address == 0x20000000 and FLASH.base <= data.load_address < FLASH.base + FLASH.size
    assert (data.size, data.stored) == (4, True)
    assert not sections[".bss"].stored and not sections[".arena"].stored
    assert sections[".arena"].size == 64 * 1024


def test_size_report_and_cli(tiny_elf, fake_root: Path) -> None:
    elf = tiny_elf(64 * 1024)
    board = resolve("f746")
    report = size_report(board, elf)
    text = read_sections(elf)[0].size
    assert report.flash_used == text + 4
    assert report.sram_used == 4 + 1024 + 64 * 1024
    assert report.arena_bytes == 64 * 1024
    report.check()

    runner = CliRunner()
    result = runner.invoke(app, ["size", "--board", "f746", "--elf", str(elf), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sram_used"] == report.sram_used

    result = runner.invoke(app, ["size", "--board", "f746", "--elf", str(elf)])
    assert result.exit_code == 0
    assert ".arena" in result.stdout and "sram" in result.stdout


def test_the_report_shows_the_model_area_and_the_parameter_store(tiny_elf, fake_root: Path) -> None:
    """Internal flash: the image and the model area after it (sectors 4-7); the parameter store
    in the QSPI flash, against that flash's 16 MB."""
    elf = tiny_elf(64 * 1024)
    board = resolve("f746")
    report = size_report(board, elf)
    assert report.model_area_bytes == board.model_area_bytes == 896 * 1024
    assert report.flash_reserved == report.flash_used + 896 * 1024 <= report.flash.size
    assert report.external_flash == Region("external flash", 0x90000000, 16 * 1024 * 1024)
    assert report.store_area_bytes == 2 * 256 * 1024
    report.check()

    summary = report.to_dict()
    assert (summary["model_area_bytes"], summary["flash_reserved"]) == (896 * 1024, report.flash_reserved)
    assert (summary["external_flash_bytes"], summary["store_area_bytes"]) == (16 * 1024 * 1024, 512 * 1024)
    result = CliRunner().invoke(app, ["size", "--board", "f746", "--elf", str(elf)])
    assert result.exit_code == 0, result.output
    assert "model area" in result.stdout and "parameter store" in result.stdout and "0x90000000" in result.stdout


def test_an_image_that_runs_into_the_model_area_is_over_budget(fake_root: Path) -> None:
    """The image owns the sectors before the model area (128 KB): one byte more is refused, though
    the flash itself has room."""
    board = resolve("f746")
    image_budget = board.flash_bytes - board.model_area_bytes
    assert image_budget == 128 * 1024
    flash, sram = Region("flash", 0x08000000, board.flash_bytes), SRAM
    for text, fits in ((image_budget, True), (image_budget + 1, False)):
        sections = classify([Section(".text", 0x08000000, 0x08000000, text, stored=True)], flash, sram)
        report = SizeReport(board.name, Path("tt-firmware.elf"), sections, flash, sram,
                            model_area_bytes=board.model_area_bytes)
        assert (report.overflows() == []) == fits
    with pytest.raises(BudgetExceeded, match="model area"):
        report.check()


def test_over_budget_image_fails_with_exit_8(tiny_elf, fake_root: Path) -> None:
    # The linker script allows 320 KB of RAM; the board budget is 320 KB too, so lie
    # about the board instead: an arena of 300 KB plus the rest, on a board of 256 KB.
    elf = tiny_elf(300 * 1024)
    toml = fake_root / "boards" / "f746-disco" / "board.toml"
    toml.write_text(toml.read_text().replace("sram_bytes = 327680", "sram_bytes = 262144"))
    report = size_report(resolve("f746-disco"), elf)
    with pytest.raises(BudgetExceeded, match="sram"):
        report.check()
    result = CliRunner().invoke(app, ["size", "--board", "f746", "--elf", str(elf)])
    assert result.exit_code == BudgetExceeded.exit_code
    assert "over by" in result.stderr


def test_not_an_elf_is_a_usage_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.elf"
    junk.write_bytes(b"not an elf")
    with pytest.raises(UsageError):
        read_sections(junk)
