"""The tt-host CLI and the library pieces under it: boards, ports, build, flashing, emulator.

External tools (cmake, pyocd, openocd, qemu-system-arm) are replaced by stub executables
on a PATH that holds nothing else, so these tests run anywhere in a few seconds. The one
test that boots real QEMU is marked ``qemu``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from serial.tools.list_ports_common import ListPortInfo
from typer.testing import CliRunner

from tt_host import __version__

from tt_host.tooling import boards, build, emulator, flashing

from tt_host.link import ports
from tt_host.cli.app import app
from tt_host.errors import (
    BuildError,
    DeviceTimeout,
    LinkError,
    PortSelectionError,
    ToolMissing,
    UsageError,
)
from tt_host.paths import REPO_ROOT
from tt_host.link.transport import LoopbackTransport, SerialTransport
from tt_protocol.responder import BoardIdentity, Responder

runner = CliRunner()

# --- boards ------------------------------------------------------------------------


def test_boards_resolve_names_aliases_and_twins(fake_root: Path) -> None:
    disco = boards.resolve("f746")
    assert disco.name == "f746-disco" and boards.resolve("f746-disco") == disco
    assert (disco.flash_base, disco.sram_base, disco.sram_bytes) == (0x08000000, 0x20000000, 327680)
    assert disco.pyocd_target == "stm32f746xx" and not disco.emulated
    twin = boards.emulated_twin(disco)
    assert (twin.name, twin.emulated, twin.qemu_machine, twin.flash_base) == ("f746-qemu", True, "mps2-an500", 0)
    assert boards.emulated_twin(twin) == twin
    assert twin.elf_path == fake_root.resolve() / "build/f746-qemu/boards/f746-qemu/tt-firmware.elf"


def test_unknown_board_lists_the_known_ones(fake_root: Path) -> None:
    with pytest.raises(UsageError, match="f746-disco, f746-qemu"):
        boards.resolve("f747")
    result = runner.invoke(app, ["size", "--board", "f747"])
    assert result.exit_code == UsageError.exit_code
    assert "f746-disco, f746-qemu" in result.stderr


def test_region_bases_default_to_the_stm32_map(fake_root: Path) -> None:
    toml = fake_root / "boards" / "f746-disco" / "board.toml"
    toml.write_text("\n".join(line for line in toml.read_text().splitlines() if "_base" not in line))
    disco = boards.resolve("f746-disco")
    assert (disco.flash_base, disco.sram_base) == (boards.DEFAULT_FLASH_BASE, boards.DEFAULT_SRAM_BASE)


@pytest.mark.skipif(not (REPO_ROOT / "boards/f746-disco/board.toml").exists(), reason="boards/ not written yet")
def test_the_repository_boards() -> None:
    disco = boards.resolve("f746")
    assert disco.name == "f746-disco"
    assert boards.emulated_twin(disco).name == "f746-qemu"


# --- ports -------------------------------------------------------------------------


def _port(device: str, vid: int | None = ports.STLINK_VID, serial: str = "066DFF") -> ListPortInfo:
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.serial_number, info.description = vid, 0x374B, serial, "STM32 STLink"
    return info


@pytest.fixture
def comports(monkeypatch: pytest.MonkeyPatch) -> list[ListPortInfo]:
    found: list[ListPortInfo] = []
    monkeypatch.setattr(ports.list_ports, "comports", lambda: list(found))
    return found


def test_port_selection(comports: list[ListPortInfo]) -> None:
    assert ports.resolve_port("socket://127.0.0.1:4321") == "socket://127.0.0.1:4321"
    with pytest.raises(PortSelectionError, match="socket://"):
        ports.resolve_port(None)
    comports += [_port("/dev/ttyUSB0", vid=0x10C4), _port("/dev/ttyACM1", serial="B")]
    assert ports.resolve_port(None) == "/dev/ttyACM1"
    comports.append(_port("/dev/ttyACM0", serial="A"))
    with pytest.raises(PortSelectionError) as caught:
        ports.resolve_port(None)
    message = str(caught.value)
    assert "/dev/ttyACM0" in message and "/dev/ttyACM1" in message and "ttyUSB0" not in message


def test_ports_command(comports: list[ListPortInfo]) -> None:
    comports.append(_port("/dev/ttyACM0"))
    result = runner.invoke(app, ["ports"])
    assert result.exit_code == 0
    assert result.stdout.startswith("/dev/ttyACM0 (STM32 STLink, serial 066DFF)")


def test_no_port_and_no_stlink_exits_5(comports: list[ListPortInfo]) -> None:
    result = runner.invoke(app, ["info"])
    assert result.exit_code == PortSelectionError.exit_code
    assert "--port" in result.stderr


# --- build -------------------------------------------------------------------------

_CMAKE_STUB = """
import os, sys
from pathlib import Path
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
if os.environ.get("STUB_FAIL"):
    print("firmware/src/main.c:1: error: expected ';'")
    sys.exit(2)
if sys.argv[1] == "--build":  # cmake --build <build dir of the preset named like the board>
    elf = Path(sys.argv[2]) / "boards" / Path(sys.argv[2]).name / "tt-firmware.elf"
    elf.parent.mkdir(parents=True, exist_ok=True)
    elf.write_bytes(b"\\x7fELF")
"""


@pytest.fixture
def stub_cmake(stub_tools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "cmake.log"
    monkeypatch.setenv("STUB_LOG", str(log))
    stub_tools("cmake", _CMAKE_STUB)
    stub_tools("arm-none-eabi-gcc", "")
    return log


def test_build_runs_the_presets_and_skips_when_up_to_date(fake_root: Path, stub_cmake: Path) -> None:
    (fake_root / "firmware").mkdir()
    source = fake_root / "firmware" / "main.c"
    source.write_text("int main(void) { return 0; }")
    os.utime(source, (time.time() - 10, time.time() - 10))
    board = boards.resolve("f746-qemu")
    elf = build.build(board)
    assert elf == board.elf_path and elf.is_file()
    build_dir = fake_root.resolve() / "build" / "f746-qemu"
    assert stub_cmake.read_text().splitlines() == [f"--preset f746-qemu -B {build_dir}", f"--build {build_dir}"]

    assert build.build(board, if_needed=True) == elf
    assert len(stub_cmake.read_text().splitlines()) == 2  # nothing ran

    os.utime(source, (time.time() + 10, time.time() + 10))  # an edit after the build
    assert not build.is_up_to_date(board)
    build.build(board, if_needed=True)
    assert len(stub_cmake.read_text().splitlines()) == 4


def test_build_failure_quotes_the_compiler(fake_root: Path, stub_cmake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUB_FAIL", "1")
    with pytest.raises(BuildError, match="expected ';'"):
        build.build(boards.resolve("f746"))
    result = runner.invoke(app, ["build", "--board", "f746"])
    assert result.exit_code == BuildError.exit_code


def test_build_without_toolchain_names_the_packages(fake_root: Path, stub_tools) -> None:
    with pytest.raises(ToolMissing, match="gcc-arm-none-eabi libnewlib-arm-none-eabi cmake"):
        build.build(boards.resolve("f746"))


def test_build_command_prints_the_elf(fake_root: Path, stub_cmake: Path) -> None:
    result = runner.invoke(app, ["build", "--board", "f746"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(boards.resolve("f746").elf_path)


# --- flashing ----------------------------------------------------------------------

_RECORD_ARGV = """
import os, sys
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(" ".join(sys.argv) + "\\n")
"""


@pytest.fixture
def elf(tmp_path: Path) -> Path:
    path = tmp_path / "fw.elf"
    path.write_bytes(b"\x7fELF")
    return path


def test_flash_prefers_pyocd(fake_root: Path, stub_tools, elf: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("STUB_LOG", str(tmp_path / "flash.log"))
    stub_tools("pyocd", _RECORD_ARGV)
    stub_tools("openocd", _RECORD_ARGV)
    assert flashing.flash(boards.resolve("f746"), elf) == "pyocd"
    assert (tmp_path / "flash.log").read_text().split()[1:] == ["flash", "-t", "stm32f746xx", str(elf)]


def test_flash_falls_back_to_openocd(fake_root: Path, stub_tools, elf: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("STUB_LOG", str(tmp_path / "flash.log"))
    stub_tools("openocd", _RECORD_ARGV)
    result = runner.invoke(app, ["flash", "--board", "f746", "--elf", str(elf)])
    assert result.exit_code == 0, result.output
    assert "with openocd" in result.stdout
    logged = (tmp_path / "flash.log").read_text()
    assert "-f board/stm32f7discovery.cfg -c program {" + elf.as_posix() + "} verify reset exit" in logged


def test_flash_writes_a_package_into_the_model_area(fake_root: Path, stub_tools, elf: Path, tmp_path: Path,
                                                   monkeypatch) -> None:
    """The firmware, then the package at the model area's address (sector 4), by either tool."""
    monkeypatch.setenv("STUB_LOG", str(tmp_path / "flash.log"))
    board = boards.resolve("f746")
    assert (board.flash_base + board.model_area_offset, board.model_area_bytes) == (0x08020000, 896 * 1024)
    package = tmp_path / "package.bin"
    package.write_bytes(b"TTPL")
    stub_tools("pyocd", _RECORD_ARGV)
    stub_tools("openocd", _RECORD_ARGV)
    assert flashing.flash_commands(board, elf, package) == [
        ["pyocd", "flash", "-t", "stm32f746xx", str(elf)],
        ["pyocd", "flash", "-t", "stm32f746xx", "--base-address", "0x08020000", str(package)]]
    assert flashing.flash(board, elf, b"TTPL") == "pyocd"
    lines = (tmp_path / "flash.log").read_text().splitlines()
    assert len(lines) == 2 and lines[1].split()[-2:][0] == "0x08020000"
    (tmp_path / "bin" / "pyocd").unlink()
    (openocd,) = flashing.flash_commands(board, elf, package)
    assert openocd[-4:] == ["-c", f"program {{{elf.as_posix()}}} verify",
                            "-c", f"program {{{package.as_posix()}}} verify reset exit 0x08020000"]
    assert flashing.flash(board, elf, b"TTPL") == "openocd"


def test_flash_without_tools_says_what_to_install(fake_root: Path, stub_tools, elf: Path) -> None:
    with pytest.raises(ToolMissing, match="pip install pyocd.*apt-get install openocd.*CN14"):
        flashing.flash(boards.resolve("f746"), elf)


def test_flash_without_probe_is_a_link_error(fake_root: Path, stub_tools, elf: Path) -> None:
    stub_tools("pyocd", "import sys\nprint('0001 C No connected debug probes [__main__]')\nsys.exit(1)")
    with pytest.raises(LinkError, match="No connected debug probes"):
        flashing.flash(boards.resolve("f746"), elf)
    result = runner.invoke(app, ["flash", "--elf", str(elf)])
    assert result.exit_code == LinkError.exit_code
    assert "CN14" in result.stderr


def test_emulated_board_cannot_be_flashed(fake_root: Path, stub_tools, elf: Path) -> None:
    with pytest.raises(UsageError, match="emulate"):
        flashing.flash(boards.resolve("f746-qemu"), elf)


# --- emulator (stub QEMU) ----------------------------------------------------------

#: Serves the UART like QEMU would: takes the listening socket handed over as fd=N and
#: echoes what a client sends; prints to stdout as the firmware's semihosting would.
_QEMU_STUB = """
import os, re, socket, sys, time
with open(os.environ["STUB_LOG"], "w") as log:
    log.write(" ".join(sys.argv[1:]))
if os.environ.get("STUB_FAIL"):
    print("qemu-system-arm: could not load kernel")
    sys.exit(1)
print("semihosting: tt firmware up", flush=True)
if os.environ.get("STUB_EXIT"):
    time.sleep(float(os.environ["STUB_EXIT"]))
    sys.exit(0)
fd = int(re.search(r"fd=(\\d+)", " ".join(sys.argv)).group(1))
listener = socket.socket(fileno=fd)
while True:
    conn, _ = listener.accept()
    with conn:
        while data := conn.recv(4096):
            conn.sendall(data)
"""


@pytest.fixture
def stub_qemu(fake_root: Path, stub_tools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "qemu-argv.txt"
    monkeypatch.setenv("STUB_LOG", str(log))
    stub_tools("qemu-system-arm", _QEMU_STUB)
    elf = boards.resolve("f746-qemu").elf_path
    elf.parent.mkdir(parents=True)
    elf.write_bytes(b"\x7fELF")
    os.utime(elf, (time.time() + 60, time.time() + 60))  # newer than every source
    return log


def test_emulator_hands_its_socket_to_qemu(stub_qemu: Path) -> None:
    with emulator.Emulator(boards.resolve("f746"), backend="qemu") as emu:
        assert emu.target.name == "f746-qemu"
        assert emu.url.startswith("socket://127.0.0.1:")
        with SerialTransport(emu.url) as link:
            link.write(b"\0ping\0")
            assert link.read(6, timeout=5.0) == b"\0ping\0"
        argv = stub_qemu.read_text()
        assert "-machine mps2-an500 -cpu cortex-m7" in argv and "-icount shift=0" in argv
        assert f"-kernel {emu.target.elf_path}" in argv
        assert "server=on,wait=off" in argv and "-serial chardev:uart0" in argv
        process = emu.process
        assert process is not None and process.poll() is None
    assert process.poll() is not None  # stopped on exit
    assert "tt firmware up" in emu.log_text()


def test_emulator_that_dies_at_once_is_a_link_error(stub_qemu: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUB_FAIL", "1")
    emu = emulator.Emulator(boards.resolve("f746-qemu"), backend="qemu")
    with pytest.raises(LinkError, match="could not load kernel"):
        emu.start()
    assert emu.process is not None and emu.process.returncode == 1


def test_image_that_ends_at_once_is_reported_by_wait(stub_qemu: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUB_EXIT", "0.1")  # exits 0 before the emulator is considered up
    with emulator.Emulator(boards.resolve("f746-qemu"), backend="qemu") as emu:
        assert emu.wait(5) == 0
    assert "tt firmware up" in emu.log_text()


def test_emulator_without_qemu_names_the_package(fake_root: Path, stub_tools) -> None:
    elf = boards.resolve("f746-qemu").elf_path
    elf.parent.mkdir(parents=True)
    elf.write_bytes(b"\x7fELF")
    emu = emulator.Emulator(boards.resolve("f746"), backend="qemu", build_if_needed=False)
    with pytest.raises(ToolMissing, match="apt-get install qemu-system-arm"):
        emu.start()


def test_emulate_command_prints_the_url_first(stub_qemu: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUB_EXIT", "0.5")  # the firmware ends the run itself
    for args in (["emulate", "--board", "f746"], ["flash", "--board", "f746", "--emulate"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("socket://127.0.0.1:")
        assert "exited with code 0" in result.stderr and "tt firmware up" in result.stderr


# --- device commands against the Python device model -------------------------------

_QEMU = boards.resolve("f746-qemu")
BOARD = BoardIdentity("f746-qemu", _QEMU.sram_bytes, _QEMU.flash_bytes, _QEMU.arena_bytes, 216000000)


@pytest.fixture
def device(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Route every --port to a fresh Responder; returns the URLs the CLI opened."""
    opened: list[str] = []

    def open_loopback(url: str, baud: int = 115200) -> LoopbackTransport:
        opened.append(url)
        return LoopbackTransport(Responder(BOARD).feed)

    monkeypatch.setattr("tt_host.cli.common.open_transport", open_loopback)
    return opened


def test_info_json(device: list[str]) -> None:
    result = runner.invoke(app, ["info", "--port", "socket://127.0.0.1:5555", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert device == ["socket://127.0.0.1:5555"]
    assert info["board"] == "f746-qemu" and info["plan_hash"] is None
    assert info["sram_bytes"] == _QEMU.sram_bytes and info["arena_bytes"] == _QEMU.arena_bytes
    assert {"flash_bytes", "firmware_version", "protocol_version", "core_clock_hz", "max_payload"} <= set(info)


def test_info_table_and_port_from_environment(device: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TT_PORT", "/dev/ttyACM7")
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0, result.output
    assert device == ["/dev/ttyACM7"]
    assert "f746-qemu" in result.stdout and "216 MHz" in result.stdout and "320 KiB" in result.stdout


def test_ping(device: list[str]) -> None:
    result = runner.invoke(app, ["ping", "--port", "loop://", "--count", "3", "--size", "100"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # HELLO negotiated the board's fastest rate: the fake device (the protocol model) takes it.
    assert len(lines) == 4 and lines[-1].startswith("3 pings at 921,600 baud: min")
    result = runner.invoke(app, ["ping", "--port", "loop://", "-c", "2", "--json"])
    assert len(json.loads(result.stdout)["rtt_s"]) == 2


def test_link_baud_option(device: list[str]) -> None:
    result = runner.invoke(app, ["--link-baud", "off", "ping", "--port", "loop://", "-c", "1"])
    assert result.exit_code == 0 and "at 115,200 baud" in result.stdout, result.output
    result = runner.invoke(app, ["--link-baud", "460800", "info", "--port", "loop://", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["link_baud"] == 460_800, result.output
    result = runner.invoke(app, ["--link-baud", "fast", "info", "--port", "loop://"])
    assert result.exit_code == 2 and "--link-baud" in result.output


def test_silent_device_exits_4_with_traceback_only_at_vv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tt_host.cli.common.open_transport", lambda url, baud=0: LoopbackTransport(lambda b: b""))
    result = runner.invoke(app, ["info", "--port", "x", "--timeout", "0.01"])
    assert result.exit_code == DeviceTimeout.exit_code
    assert "no valid answer to HELLO" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
    result = runner.invoke(app, ["-vv", "info", "--port", "x", "--timeout", "0.01"])
    assert result.exit_code == DeviceTimeout.exit_code
    assert "Traceback" in result.stderr and "retransmitting" in result.stderr


def test_unreachable_port_exits_3() -> None:
    result = runner.invoke(app, ["info", "--port", "socket://127.0.0.1:1"])
    assert result.exit_code == LinkError.exit_code
    assert "127.0.0.1:1" in result.stderr


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"tt-host {__version__}"


# --- end to end on real QEMU --------------------------------------------------------


@pytest.mark.qemu
@pytest.mark.skipif(
    not all(shutil.which(t) for t in ("qemu-system-arm", "arm-none-eabi-gcc", "cmake"))
    or not (REPO_ROOT / "boards/f746-qemu/board.toml").exists(),
    reason="needs qemu-system-arm, arm-none-eabi-gcc, cmake and boards/f746-qemu",
)
def test_info_and_ping_commands_on_qemu() -> None:
    with emulator.Emulator(boards.resolve("f746"), backend="qemu") as emu:
        result = runner.invoke(app, ["info", "--port", emu.url, "--json"])
        assert result.exit_code == 0, result.output + emu.log_tail()
        assert json.loads(result.stdout)["board"] == "f746-qemu"
        result = runner.invoke(app, ["ping", "--port", emu.url, "--count", "3", "--size", "1024"])
        assert result.exit_code == 0, result.output + emu.log_tail()
