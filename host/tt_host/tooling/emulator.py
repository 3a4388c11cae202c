"""Running the firmware in an emulator, with its UART on a local TCP socket.

QEMU (the default) runs the emulated twin of the board (``f746-qemu`` on
``mps2-an500``). The host creates the listening socket itself, on a port the kernel
picks, and hands the open descriptor to QEMU (``-chardev socket,fd=N``): the port is
known before QEMU starts, no other program can take it in between, and a client that
connects early waits in the socket's backlog until QEMU accepts. Whatever the firmware
prints through semihosting (fault reports) goes to :attr:`Emulator.log_path`.

When ``renode`` is on PATH and ``renode/<board>.resc`` exists, Renode runs the physical
board's image instead (see :func:`_renode_command` for the script's contract).

The host twin (board ``host``, backend ``native``) needs no emulator: ``boards/host``
builds the same firmware (``firmware/src/main.c``, the runtime, the kernels' portable C
paths) as an executable of this computer, tens of times faster than QEMU. It gets the
listening socket the same way (``tt-firmware --listen-fd N``), serves one client at a
time as QEMU does, and keeps its flashes in ``flash_image``: the F746's 1 MB and sectors,
then the 512 KB of the QSPI flash that hold the parameter store (a 1.5 MB file; without one,
a temporary file that lasts as long as the process). It
reports the F746's budgets and the same arena as the ``f746-qemu`` image, so a stream
compiles the same plan for both and trains to the same bytes; its ticks are microseconds
of this computer's clock, not instructions, and it measures no stack.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Literal, Self

from tt_host.tooling.boards import Board, emulated_twin, resolve

from tt_host.tooling.build import build
from tt_host.tooling.keyed_image import keyed_copy
from tt_host.errors import LinkError, ToolMissing, UsageError

log = logging.getLogger(__name__)

Backend = Literal["auto", "qemu", "renode", "native"]

#: How long a freshly started QEMU is watched for an immediate exit (bad image, bad
#: option) before it is considered running.
_QEMU_SETTLE_S = 0.25
#: Size of the mps2 machines' RAM (PSRAM), which a flash image file must match exactly.
_QEMU_MACHINE_RAM_BYTES = 16 * 1024 * 1024
#: How long a freshly started host twin is watched for an immediate exit (a flash file
#: that is not one, or in use) before it is considered running.
_NATIVE_SETTLE_S = 0.1
#: How long Renode may take to open its UART socket.
_RENODE_START_S = 30.0
#: Lines of the emulator log quoted when it dies.
_TAIL_LINES = 20


class Emulator:
    """An emulator running ``board``'s firmware; a context manager.

    ``board`` may be the physical board, its emulated twin or its host twin (``host``, run
    as a process: backend ``native``). The image is built first when missing or stale
    (``build_if_needed``) unless ``elf`` names another image (a test image, say);
    ``extra_args`` go to QEMU (or the host twin) as they are (e.g. ``["-append", "case"]``);
    ``flash_image`` keeps the board's flash in a file across emulator runs; ``key`` runs the
    image provisioned with that key (``tooling.keyed_image``), as ``tt-host flash --key`` would.
    Inside the ``with`` block, :attr:`url` is the pyserial URL of the UART
    (``socket://127.0.0.1:PORT``).
    """

    def __init__(
        self,
        board: Board,
        *,
        backend: Backend = "auto",
        elf: Path | None = None,
        extra_args: Sequence[str] = (),
        flash_image: Path | None = None,
        build_if_needed: bool = True,
        log_path: Path | None = None,
        verbose: bool = False,
        key: bytes | None = None,
    ) -> None:
        self.board = board
        self.key = key
        self.backend: Backend = _pick_backend(board) if backend == "auto" else backend
        self.elf = elf
        self.extra_args = list(extra_args)
        self.flash_image = flash_image
        self.build_if_needed = build_if_needed
        self.verbose = verbose
        self.target = _renode_board(board) if self.backend == "renode" else emulated_twin(board)
        self.log_path = log_path or self.target.elf_path.parent / "emulator.log"
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Build if needed, launch the emulator and set :attr:`url`."""
        if self.elf is None and self.build_if_needed:
            elf = build(self.target, verbose=self.verbose, if_needed=True)
        else:
            elf = self.elf or self.target.elf_path
            if not elf.is_file():
                raise UsageError(f"{elf} does not exist: run `tt-host build --board {self.target.name}`")
        if self.key is not None:
            elf = keyed_copy(elf, self.key)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        try:
            if self.backend == "renode":
                self._start_renode(elf)
            elif self.backend == "native":
                self._start_native(elf)
            else:
                self._start_qemu(elf)
        except BaseException:
            self.stop()
            raise
        log.info("%s running %s; UART at %s; log in %s", self.backend, elf, self.url, self.log_path)

    def _start_qemu(self, elf: Path) -> None:
        if shutil.which("qemu-system-arm") is None:
            raise ToolMissing("qemu-system-arm not found on PATH; install with: sudo apt-get install qemu-system-arm")
        if not self.target.qemu_machine:
            raise UsageError(f"board {self.target.name!r} has no [qemu] machine in its board.toml")
        # fd passing makes the port race-free; see the module docstring.
        self._spawn_on_socket(lambda fd: [
            "qemu-system-arm",
            "-machine", self.target.qemu_machine,
            "-cpu", self.target.qemu_cpu,
            "-nographic",
            "-monitor", "none",
            "-icount", "shift=0",  # deterministic guest time, independent of host load
            "-semihosting-config", "enable=on,target=native",
            "-kernel", str(elf),
            "-chardev", f"socket,id=uart0,fd={fd},server=on,wait=off,nodelay=on",
            "-serial", "chardev:uart0",
            *self._flash_args(),
            *self.extra_args,
        ])  # fmt: skip
        try:
            self.process.wait(_QEMU_SETTLE_S)
        except subprocess.TimeoutExpired:
            return
        # An image may end at once on purpose (a test case exiting through semihosting):
        # that is for wait() to report. QEMU's own complaints carry its name.
        if self.process.returncode != 0 and "qemu-system-arm:" in self.log_text():
            raise LinkError(
                f"qemu-system-arm failed to start (exit code {self.process.returncode}):\n{self.log_tail()}"
            )

    def _spawn_on_socket(self, command: Callable[[int], list[str]]) -> None:
        """Start ``command(fd)``, the emulator listening on descriptor ``fd``: a socket this
        process bound to a port the kernel picked (known before the child starts, and no other
        program can take it in between); set :attr:`url`."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            port = listener.getsockname()[1]
            cmd = command(listener.fileno())
            log.debug("$ %s", " ".join(cmd))
            self.process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                            pass_fds=(listener.fileno(),))
        finally:
            listener.close()  # the child holds its own copy
        self.url = f"socket://127.0.0.1:{port}"

    def _flash_args(self) -> list[str]:
        """Back the board's emulated flash with ``flash_image`` so it outlives the emulator.

        The f746-qemu board keeps both its flashes in the machine RAM (PSRAM): the internal
        flash (image and model area) in its first MB, the QSPI flash's parameter store at
        2 MB (boards/f746-qemu/f746_qemu.h). QEMU maps PSRAM from this file with
        ``share=on``: every completed write is in the file at once, so even a killed
        emulator leaves exactly what the firmware had written, package and commits alike.
        """
        if self.flash_image is None:
            return []
        self.flash_image.parent.mkdir(parents=True, exist_ok=True)
        with self.flash_image.open("ab") as f:
            f.truncate(_QEMU_MACHINE_RAM_BYTES)  # QEMU insists on the machine's exact RAM size
        return [
            "-object", f"memory-backend-file,id=psram,size={_QEMU_MACHINE_RAM_BYTES},mem-path={self.flash_image},share=on",
            "-machine", "memory-backend=psram",
        ]  # fmt: skip

    def _start_native(self, exe: Path) -> None:
        """Run the host twin's executable on a socket made here, as QEMU gets its own."""
        if not self.target.native:
            raise UsageError(f"board {self.target.name!r} is no host twin (no [native] in its board.toml)")
        flash = []
        if self.flash_image is not None:
            self.flash_image.parent.mkdir(parents=True, exist_ok=True)
            flash = ["--flash", str(self.flash_image)]  # created, erased, by the twin when missing
        self._spawn_on_socket(lambda fd: [str(exe), "--listen-fd", str(fd), *flash, *self.extra_args])
        try:
            self.process.wait(_NATIVE_SETTLE_S)
        except subprocess.TimeoutExpired:
            return
        raise LinkError(f"{exe.name} exited at once with code {self.process.returncode}:\n{self.log_tail()}")

    def _start_renode(self, elf: Path) -> None:
        port = _free_port()  # Renode cannot take a descriptor, so the port is picked here
        self.process = subprocess.Popen(
            _renode_command(self.target, elf, port),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"socket://127.0.0.1:{port}"
        deadline = time.monotonic() + _RENODE_START_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LinkError(f"renode exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.2)
        raise LinkError(f"renode did not open its UART socket on port {port} within {_RENODE_START_S:g} s")

    def wait(self, timeout: float | None = None) -> int:
        """Block until the emulator exits (the firmware may end it through semihosting);
        return its exit code."""
        if self.process is None:
            raise LinkError("the emulator is not running")
        return self.process.wait(timeout)

    def stop(self) -> None:
        """Terminate the emulator (kill it if it lingers) and close the log."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        """Everything the emulator and the firmware's semihosting printed so far."""
        if self._log is not None:
            self._log.flush()
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = _TAIL_LINES) -> str:
        """The last ``lines`` lines of :meth:`log_text`."""
        return "\n".join(self.log_text().splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- Renode (used only when installed; not exercised by the test suite) -------------


def _renode_board(board: Board) -> Board:
    """Renode models the physical part: an emulated board stands for its original."""
    return resolve(board.emulator_of, board.root) if board.emulated and board.emulator_of else board


def _renode_script(board: Board) -> Path:
    return board.root / "renode" / f"{_renode_board(board).name}.resc"


def _pick_backend(board: Board) -> Backend:
    if board.native:
        return "native"
    if shutil.which("renode") and _renode_script(board).is_file():
        return "renode"
    return "qemu"


def _renode_command(board: Board, elf: Path, port: int) -> list[str]:
    """Renode's command line. Contract with ``renode/<board>.resc``: the script loads
    ``$bin`` and serves the console UART on TCP port ``$uart_port``
    (``emulation CreateServerSocketTerminal $uart_port "uart" false``); it does not
    ``start`` the machine itself."""
    script = _renode_script(board)
    monitor = f"$bin=@{elf}; $uart_port={port}; include @{script}; start"
    # No --console: its monitor would read our (closed) stdin and quit at EOF.
    return ["renode", "--disable-xwt", "--plain", "-e", monitor]
