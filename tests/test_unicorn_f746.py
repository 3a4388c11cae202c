"""The real ``f746-disco`` image, executed: the unicorn harness (tests/f746_unicorn) boots the
very ELF `tt-host flash` would write to a Discovery board and drives it through the same
``tt_protocol`` frames and ``tt_host`` DeviceSession the host uses with a board.

It proves the board's own code runs and talks the protocol: the reset handler and clock tree
(216 MHz from the 25 MHz crystal, over-drive, 7 wait states), the vector table and its
interrupt-driven USART1 driver, the internal-flash driver writing an uploaded package, and the
QSPI driver persisting a COMMIT that a reboot on the same flash restores. Every peripheral
model records what real silicon would refuse; each test ends with none recorded.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

pytest.importorskip("unicorn", reason="needs the unicorn CPU emulator (pip install unicorn)")

from f746_unicorn import Board, Image, UnicornTransport  # noqa: E402
from tt_protocol import plan as P  # noqa: E402
from tt_protocol.frame import InfoPayload, Opcode, encode_frame, parse_frame, to_wire  # noqa: E402
from tt_protocol.status import Status  # noqa: E402
from tt_protocol.stream import FrameDecoder  # noqa: E402

from tt_host.link.session import DeviceSession  # noqa: E402
from tt_host.tooling.boards import resolve  # noqa: E402
from tt_host.tooling.build import build  # noqa: E402

pytestmark = pytest.mark.arm  # skipped, naming the tool, when the toolchain is missing (conftest.py)

BOARD = resolve("f746-disco")
#: Rates the board's board.toml offers after HELLO.
RATES = (921600, 460800, 230400)
#: The model area (internal sectors 4-7) and the A/B store's slots (QSPI, 2 x 256 KB).
MODEL_AREA = range(0x20000, 0x100000)
SLOTS = range(0, 512 * 1024)


@pytest.fixture(scope="module")
def image() -> Image:
    return Image.load(build(BOARD, if_needed=True))


def _assert_clean(board: Board) -> None:
    """Nothing a real F746 would refuse, no register nobody models, no byte lost on the way."""
    assert board.violations == []
    assert board.unmodelled == set()
    assert board.line.garbled == 0 and board.machine.usart.overruns == 0
    for counter in ("rx_dropped", "rx_overruns"):  # the driver's own diagnostics (uart.c)
        assert board.machine.word(board.image.symbol(counter)) == 0, counter


def _session(board: Board) -> DeviceSession:
    return DeviceSession(UnicornTransport(board), timeout=1.0, link_rates=RATES)


# -- (1) boot --------------------------------------------------------------------------------------


def test_unicorn_boot_sets_up_clocks_vectors_and_peripherals(image: Image) -> None:
    board = Board(image)
    assert board.run(216_000_000) == "idle"  # the main loop waits for the host
    m = board.machine
    # Clock tree (board.c): HSE 25 MHz / 25 * 432 / 2 = 216 MHz, Q = 48 MHz, APB1 /4, APB2 /2.
    assert (m.rcc.sysclk_hz(), m.rcc.hclk_hz(), m.rcc.pclk1_hz(), m.rcc.pclk2_hz()) == (
        216_000_000, 216_000_000, 54_000_000, 108_000_000)
    assert m.rcc.pll_q_hz() == 48_000_000
    assert m.pwr.overdrive() and m.flash.latency() == 7
    # The reset handler moved VTOR from the boot alias to the image's table, whose USART1 and
    # SysTick entries the machine dispatched through.
    assert m.scs.vtor == image.symbol("tt_cm7_core_vectors") == 0x0800_0000
    assert m.word(m.scs.vtor + 4 * (16 + 37)) & ~1 == image.symbol("tt_disco_usart1_irq")
    assert m.scs.regs[0xD88] >> 20 & 0xF == 0xF  # CPACR: the FPU enabled first
    assert m.scs.regs[0xD14] & (1 << 16 | 1 << 17 | 1 << 4) == 1 << 16 | 1 << 17 | 1 << 4  # DC, IC, DIV_0_TRP
    assert m.scs.mpu_ctrl == 0b101 and len(m.scs.mpu_regions) == 5  # enabled, default map behind
    assert (m.scs.syst_csr & 7, m.scs.syst_rvr) == (7, 0xFF_FFFF)
    assert 37 in m.scs.enabled and m.scs.priority[16 + 37] == 0x40 and m.scs.priority[15] == 0xF0
    # USART1 on PA9/PB7 (AF7) at 115,200 from PCLK2; the QSPI pins (AF9, NCS AF10).
    gpio = m.gpio
    assert (gpio["A"].mode(9), gpio["A"].alternate(9), gpio["B"].mode(7), gpio["B"].alternate(7)) == (2, 7, 2, 7)
    assert [gpio[p].alternate(n) for p, n in (("B", 2), ("B", 6), ("D", 11), ("D", 12), ("E", 2), ("D", 13))] == [
        9, 10, 9, 9, 9, 9]
    assert m.usart.regs[0x0C] == 938 and abs(m.usart.device_baud() / 115200 - 1) < 0.002
    # The N25Q128A answered its JEDEC ID and runs quad reads with 10 dummy cycles, memory-mapped.
    assert m.qspi.mapped and m.qspi.chip.dummy_cycles() == 10
    _assert_clean(board)


def test_unicorn_board_without_crystal_falls_back_to_hsi_and_says_so(image: Image) -> None:
    """When the HSE never starts, clock_init() gives up after its 2,000,000 polls (0.7 s at
    16 MHz), stays on the HSI and INFO reports that clock; the link negotiates the fastest rate
    an 8 MHz PCLK2 makes within tolerance: 921,600 and 460,800 are refused, 230,400 holds."""
    board = Board(image, crystal=False)
    session = _session(board)
    info = session.hello()
    assert board.machine.rcc.sysclk_hz() == 16_000_000 and info.core_clock_hz == 16_000_000
    assert session.baud == 230400 and board.machine.usart.regs[0x0C] == 35  # 8 MHz / 35: -0.8 %
    assert session.ping(b"16 MHz") >= 0
    _assert_clean(board)


# -- (2) HELLO ----------------------------------------------------------------------------------------


def test_unicorn_usart_answers_hello_frames(image: Image) -> None:
    board = Board(image)
    assert board.run(216_000_000) == "idle"  # booted: bytes sent earlier would meet a USART still off
    board.send(to_wire(encode_frame(Opcode.HELLO, 7)))
    assert board.run(216_000_000) == "idle"
    events = list(FrameDecoder().feed(board.line.host_read()))
    assert [e.status for e in events] == [Status.OK]
    frame = parse_frame(events[0].frame).body.value
    assert (frame.header.opcode, frame.header.seq) == (Opcode.HELLO | 0x80, 7)
    info = InfoPayload.parse(frame.payload)
    assert info.board.rstrip(b"\0") == b"f746-disco" and info.core_clock_hz == 216_000_000
    assert board.machine.exceptions[16 + 37] >= len(to_wire(encode_frame(Opcode.HELLO, 7)))  # one IRQ a byte

    # The host's session negotiates the fastest rate of board.toml: SET_BAUD rewrites BRR with
    # the USART off, and a PING at 921,600 confirms it.
    session = _session(board)
    assert session.hello().board == "f746-disco" and session.baud == 921600
    assert board.machine.usart.regs[0x0C] == 117  # 108 MHz / 921,600, within 0.2 %
    _assert_clean(board)


# -- (3) a short training session -----------------------------------------------------------------------


class Trained:
    """A board that took a package and trained a few steps, with the numpy reference beside it."""

    def __init__(self, image: Image, board: Board | None = None, session: DeviceSession | None = None) -> None:
        from compiler.builders import inverted_bottleneck_model

        from tt_host.compiler import TrainParams, compile_model, import_model, serialize, simulate
        from tt_host.compiler.blob import package
        from tt_host.tflite import load

        graph = import_model(load(inverted_bottleneck_model()), "tiny").with_classes(3)
        compiled = compile_model(graph, {"n_bias_update": 2, "manual_weight_idx": [3], "weight_update_ratio": [0.5]})
        blobs = serialize(compiled.schedule, compiled.plan, TrainParams(lr=0.05, seed=5), "tiny")
        self.plan = blobs.plan
        self.header = P.validate(blobs.plan).header
        self.package = package(blobs.plan, blobs.weights)
        self.reference = simulate.planned(blobs.plan, blobs.weights)
        self.board = board or Board(image)
        self.session = session or _session(self.board)
        self.session.hello()
        self.factory = self.image()
        self.session.upload(self.package, replace_model=True)
        self.results = []
        rng = np.random.default_rng(8)
        shape = (self.header.input_h, self.header.input_w, self.header.input_c)
        for step in range(3):
            x, label = rng.integers(-128, 128, shape, dtype=np.int8), step % 3
            self.session.send_sample(x.tobytes())
            self.results.append((self.session.run_sample(label, train=True, step=step), self.reference.step(x, label)))

    def image(self) -> bytes:
        """The reference's parameter image, laid out as PULL sends it (tt_executor_params_read)."""
        out = b"".join(np.asarray(self.reference.store.get(op.outs[0])).tobytes()
                       for op in P.validate(self.plan).ops if op.kind in (P.OpKind.LOAD_WEIGHTS, P.OpKind.LOAD_BIAS))
        return out + struct.pack("<I", self.reference.rng.counter)


@pytest.fixture(scope="module")
def trained(image: Image) -> Trained:
    return Trained(image)


def test_unicorn_training_session_matches_the_reference(trained: Trained) -> None:
    board, session = trained.board, trained.session
    # The package went into the model area through the flash controller: sectors erased, then
    # programmed word by word, nothing outside the model area touched.
    log = board.machine.flash.log
    assert ("erase", 4) in log
    programmed = b"".join(entry[2] for entry in log if entry[0] == "program")
    assert len(programmed) >= len(trained.package)
    assert all(entry[1] in MODEL_AREA for entry in log if entry[0] == "program")
    assert bytes(board.chips.internal[0x20000:0x20000 + len(trained.package)]) == trained.package
    info = session.hello()
    assert info.plan_hash == trained.header.plan_hash.hex()

    for step, (got, want) in enumerate(trained.results):
        assert (np.float32(got.loss), got.predicted, bool(got.correct)) == (
            np.float32(want.loss), want.predicted, want.correct), step
        assert got.trained == step + 1
    pulled = session.pull()
    assert pulled == trained.image() != trained.factory
    stats = session.stats()
    assert stats.trained == 3 and stats.tick_hz == 216_000_000 and stats.train_ticks > 0
    _assert_clean(board)


# -- (4) COMMIT persists in the QSPI flash -----------------------------------------------------------------


def test_unicorn_commit_writes_the_qspi_store_and_a_reboot_restores_it(image: Image, trained: Trained) -> None:
    board, session = trained.board, trained.session
    committed = session.pull()
    chip = board.machine.qspi.chip
    before, invalidated = len(chip.log), board.machine.scs.cache_ops
    sequence, size = session.commit()
    assert sequence >= 1 and size == len(committed) + 4
    writes = chip.log[before:]
    erased = [entry for entry in writes if entry[0] == "erase"]
    programs = [entry for entry in writes if entry[0] == "program"]
    # A whole 256 KB slot erased as four 64 KB sectors, lowest first, then page programs.
    assert [e[2] for e in erased] == [65536] * 4 and [e[1] for e in erased] == sorted(e[1] for e in erased)
    assert programs and all(e[1] in SLOTS and len(e[2]) <= 256 for e in programs)
    assert all(e[1] // 256 == (e[1] + len(e[2]) - 1) // 256 for e in programs)  # never across a page
    assert sum(len(e[2]) for e in programs) >= size
    # Written behind the data cache: the driver drops the window's lines, one per 32 bytes erased.
    assert board.machine.scs.cache_ops - invalidated >= 4 * 65536 // 32

    # Power cycle: a new machine on the same two flash chips.
    rebooted = Board(image, board.chips.copy())
    again = _session(rebooted)
    info = again.hello()
    assert info.plan_hash == trained.header.plan_hash.hex()
    assert again.pull() == committed
    stats = again.stats()
    assert (stats.trained, stats.commit_sequence) == (3, sequence)
    _assert_clean(rebooted)

    # A step trained but not committed is gone after RESET (SYSRESETREQ, same flash).
    session.send_sample(bytes(trained.header.input_h * trained.header.input_w * trained.header.input_c))
    session.run_sample(0, train=True, step=3)
    assert session.pull() != committed
    boots = board.boots
    session.reset()
    assert board.boots == boots + 1
    assert session.hello().plan_hash == trained.header.plan_hash.hex()
    assert session.pull() == committed
    _assert_clean(board)


# -- the models refuse what silicon refuses --------------------------------------------------------------


def test_unicorn_models_record_what_a_real_f746_would_refuse() -> None:
    """The checks the tests above rely on (no violation recorded) do fire on misuse."""
    from f746_unicorn import flash, qspi, usart
    from f746_unicorn.clocks import Pwr, Rcc
    from f746_unicorn.peripheral import Bus
    from f746_unicorn.rng import Rng
    from f746_unicorn.scs import SystemControl

    bus = Bus()
    array = bytearray(b"\xff" * flash.FLASH_BYTES)

    def write(offset: int, data: bytes) -> None:
        array[offset:offset + len(data)] = data

    ctrl = flash.FlashController(bus, lambda o, n: bytes(array[o:o + n]), write, image_bytes=0x20000)
    ctrl.store(flash.FLASH_BASE + 0x20000, 4, 0)  # locked, no PG
    ctrl.settle()
    assert ctrl.read32(flash.SR) & flash.ERSERR and array[0x20000:0x20004] == b"\xff" * 4
    ctrl.write32(flash.KEYR, flash.KEY1)
    ctrl.write32(flash.KEYR, flash.KEY2)
    ctrl.write32(flash.CR, flash.PG | (1 << 8))  # PSIZE x16
    ctrl.store(flash.FLASH_BASE + 0x20000, 4, 0x12345678)
    ctrl.settle()
    assert ctrl.read32(flash.SR) & flash.PGPERR and array[0x20000:0x20004] == b"\xff" * 4
    ctrl.write32(flash.CR, flash.SER | (2 << 8) | (0 << 3) | flash.STRT)  # sector 0: the image
    assert any("running image" in v for v in bus.violations)

    chip = qspi.N25Q128A(memoryview(bytearray(b"\0" * qspi.SECTOR)), bus.violation)
    chip.execute(0xD8, 0, b"")  # erase without WRITE ENABLE: ignored
    assert chip.array[0] == 0 and any("WRITE ENABLE" in v for v in bus.violations)
    chip.execute(0x06, None, b"")
    chip.execute(0x02, 0xFE, b"\xaa\xbb\xcc")  # wraps inside its page, over 0 bits
    assert bytes(chip.array[0xFE:0x100]) == b"\0\0" and chip.array[0] == 0
    assert any("not erased" in v for v in bus.violations)
    controller = qspi.QuadSpi(bus, chip)
    controller.window_read(qspi.CHIP_BYTES)
    assert any("outside memory-mapped mode" in v for v in bus.violations)

    rcc = Rcc(bus)
    port = usart.Usart(bus, rcc, usart.Line(), lambda: 0, lambda: None)
    port.write32(usart.CR1, usart.UE)
    port.write32(usart.BRR, 139)
    assert any("BRR written while UE" in v for v in bus.violations)
    port.write32(usart.CR1, usart.UE | usart.TE)
    port.write32(usart.TDR, 0x55)
    assert port.read32(usart.ISR) & (usart.TXE | usart.TC) == usart.TXE  # on the wire, not done
    port.write32(usart.CR1, 0)  # without waiting for TC
    assert any("still on its way" in v for v in bus.violations) and port.line.to_host == b""
    Pwr(bus, rcc).write32(Pwr.CR1, Pwr.VOS_SCALE1 | Pwr.ODEN)  # before the PLL is on
    assert any("ODEN set before the PLL" in v for v in bus.violations)
    assert Rng(bus).read32(0x08) == 0 and any("generator off" in v for v in bus.violations)

    scs = SystemControl(bus, lambda: 0, lambda: None)
    scs.write32(0xD9C, 0x0800_0000 | 1 << 4 | 0)  # region 0: 1 MB of flash, read-only
    scs.write32(0xDA0, 6 << 24 | 19 << 1 | 1)
    scs.write32(0xD9C, 0x2000_0000 | 1 << 4 | 1)  # region 1: 512 KB RW, the top three eighths disabled
    scs.write32(0xDA0, 3 << 24 | 0xE0 << 8 | 18 << 1 | 1)
    scs.write32(0xD94, 0b101)
    assert scs.mpu_allows(0x0802_0000, write=False) and not scs.mpu_allows(0x0802_0000, write=True)
    assert scs.mpu_allows(0x2004_FFFC, write=True) and scs.mpu_allows(0x2006_0000, write=True)  # default map
    scs.write32(0xD94, 0b001)  # no default map behind the regions
    assert not scs.mpu_allows(0x2006_0000, write=False) and not scs.mpu_allows(0x4001_1000, write=True)

    gated = Bus(Rcc(Bus()).clock_on)
    gated.attach(Rng(gated)).regs[0] = 1 << 2
    assert gated.read(0x5006_0808, 4) == 0 and "clock off" in gated.violations[-1]


# -- (5) authentication on the board's own random number generator ------------------------------


def test_unicorn_auth_a_provisioned_image_draws_nonces_from_the_rng_and_trains_signed(
        image: Image, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The image provisioned with a key (`tt-host flash --key`): NONCE reads the F746's TRNG
    (clocked from the PLL's 48 MHz), the signed upload is sealed into the model area by the flash
    controller, signed training steps match the reference, and an unsigned COMMIT is refused."""
    from tt_protocol import auth
    from tt_protocol.frame import NoncePayload

    from tt_host import keys
    from tt_host.errors import DeviceError
    from tt_host.tooling.keyed_image import keyed_copy

    monkeypatch.setenv("TT_HOME", str(tmp_path))
    _, key = keys.generate()
    keyed = Image.load(keyed_copy(build(BOARD, if_needed=True), key, tmp_path / "keyed.elf"))
    board = Board(keyed)
    session = _session(board)
    assert session.hello().auth == "required"
    nonces = {NoncePayload.parse(session.request(Opcode.NONCE)[1]).nonce for _ in range(3)}
    assert len(nonces) == 3, "each nonce is fresh"
    trained = Trained(keyed, board=board, session=session)
    for got, want in trained.results:
        assert (np.float32(got.loss), got.predicted) == (np.float32(want.loss), want.predicted)
    seal_at = 0x20000 + auth.seal_offset(len(trained.package))
    assert bytes(board.chips.internal[seal_at:seal_at + auth.SEAL_BYTES]) == auth.package_seal(key, trained.package)
    with pytest.raises(DeviceError) as refused:
        session.request(Opcode.COMMIT)
    assert (refused.value.status, refused.value.detail) == (Status.UNAUTHORIZED, auth.AuthFailure.MISSING)
    assert session.commit()[0] == 1
    assert session.pull() == trained.image()
    _assert_clean(board)
