"""Authenticated state-changing requests (issue 15): the firmware's SHA-256/HMAC against Python's,
key files, provisioned images, and a provisioned board (host twin, QEMU) that trains, commits and
reloads for its key holder and refuses unsigned, forged and replayed requests without changing
anything. The NIST/RFC 4231 vectors themselves are a C test (firmware/tests/test_sha256.c)."""

from __future__ import annotations

import ctypes as C
import hashlib
import hmac
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tt_protocol import auth
from tt_protocol.frame import NoncePayload, Opcode
from tt_protocol.status import Status

from tt_host import keys
from tt_host.cli.app import app
from tt_host.errors import DeviceError, KeyMissing, UsageError
from tt_host.native import library
from tt_host.paths import REPO_ROOT
from tt_host.tooling.boards import resolve
from tt_host.tooling.build import build
from tt_host.tooling.emulator import Emulator
from tt_host.tooling.keyed_image import key_record_offset, keyed_copy

from emulated import connected

HOST = resolve("host")
DEMO = REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite"
CAMERA = REPO_ROOT / "examples" / "camera_samples"
KEY = bytes(range(0x40, 0x60))
runner = CliRunner()

needs_cc = pytest.mark.skipif(not shutil.which("cmake") or not shutil.which("cc"),
                              reason="needs cmake and a C compiler (scripts/setup.sh installs them)")


# -- the primitives ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lib() -> C.CDLL:
    lib = library.load()
    lib.tt_sha256.argtypes = [C.c_char_p, C.c_size_t, C.c_char_p]
    lib.tt_hmac_init.argtypes = [C.c_void_p, C.c_char_p, C.c_size_t]
    lib.tt_hmac_update.argtypes = [C.c_void_p, C.c_char_p, C.c_size_t]
    lib.tt_hmac_final.argtypes = [C.c_void_p, C.c_char_p]
    return lib


@needs_cc
@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=300), key=st.binary(max_size=150))
def test_auth_firmware_sha256_and_hmac_match_python(lib: C.CDLL, data: bytes, key: bytes) -> None:
    digest = C.create_string_buffer(32)
    lib.tt_sha256(data, len(data), digest)
    assert digest.raw == hashlib.sha256(data).digest()
    state = C.create_string_buffer(512)  # tt_hmac_t is about 180 bytes
    lib.tt_hmac_init(state, key, len(key))
    lib.tt_hmac_update(state, data, len(data))
    lib.tt_hmac_final(state, digest)
    assert digest.raw == hmac.new(key, data, hashlib.sha256).digest()


def test_auth_needs_a_signature_only_for_what_changes_the_device() -> None:
    run = bytes(4) + bytes([1, 0]) + bytes([1, 0]) + bytes(4)  # step, label 1, flags TRAIN, lr
    evaluation = bytes(4) + bytes([1, 0]) + bytes([0, 0]) + bytes(4)
    assert auth.needs_auth(Opcode.SAMPLE_RUN, run) and not auth.needs_auth(Opcode.SAMPLE_RUN, evaluation)
    for opcode in (Opcode.LOAD_BEGIN, Opcode.LOAD_END, Opcode.COMMIT, Opcode.ROLLBACK, Opcode.REVERT):
        assert auth.needs_auth(opcode, b"")
    for opcode in (Opcode.HELLO, Opcode.STATS, Opcode.PULL, Opcode.PROFILE, Opcode.SAMPLE_DATA, Opcode.LOAD_CHUNK):
        assert not auth.needs_auth(opcode, b"")


# -- key files and images ----------------------------------------------------------------------


def test_auth_keygen_writes_an_owner_only_key_found_by_its_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TT_HOME", str(tmp_path / "home"))
    result = runner.invoke(app, ["keygen"])
    assert result.exit_code == 0, result.output
    path = Path(result.stdout.strip())
    assert path.parent == tmp_path / "home" / "keys"
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    key = keys.load(path)
    assert path.name == f"{auth.key_id(key).hex()}.key"
    assert keys.for_device(auth.key_id(key)) == key
    with pytest.raises(KeyMissing, match="no .*pass --key"):
        keys.for_device(bytes(8))
    os.chmod(path, 0o644)
    with pytest.raises(UsageError, match="chmod 600"):
        keys.load(path)
    os.chmod(path, 0o600)
    assert runner.invoke(app, ["keygen", "--out", str(path)]).exit_code == 2, "never overwrites a key"
    other, _ = keys.generate(tmp_path / "other.key")
    with pytest.raises(KeyMissing, match="holds key"):
        keys.for_device(auth.key_id(key), other)
    bad = tmp_path / "bad.key"
    bad.write_text("not hex\n")
    bad.chmod(0o600)
    with pytest.raises(UsageError, match="not a tt key file"):
        keys.load(bad)


@needs_cc
def test_auth_a_keyed_copy_carries_the_key_record_and_nothing_else_changes(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TT_HOME", str(tmp_path))
    image = build(HOST, if_needed=True)
    offset = key_record_offset(image)
    original = image.read_bytes()
    assert original[offset:offset + auth.KEY_RECORD_BYTES] == b"\xff" * auth.KEY_RECORD_BYTES, "built erased"
    copy = keyed_copy(image, KEY)
    keyed = copy.read_bytes()
    assert keyed[offset:offset + auth.KEY_RECORD_BYTES] == auth.key_record(KEY)
    assert keyed[:offset] == original[:offset] and keyed[offset + auth.KEY_RECORD_BYTES:] == original[offset + 64:]
    assert copy.stat().st_mode & 0o077 == 0, "the copy holds the key: its owner's only"
    not_elf = tmp_path / "x.elf"
    not_elf.write_bytes(b"nope")
    with pytest.raises(UsageError, match="cannot read firmware image"):
        key_record_offset(not_elf)


# -- a provisioned board ---------------------------------------------------------------------------


@pytest.fixture()
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("samples")
    for label in ("coat", "shirt", "sneaker"):
        (root / label).mkdir()
        for f in sorted((CAMERA / label).iterdir())[:4]:
            shutil.copy(f, root / label / f.name)
    return root


def _cli(url: str, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--link-baud", "off", *args, "--port", url])
    return result.exit_code, result.output


def _stream_pull_commit(url: str, folder: Path, out: Path) -> bytes:
    for command in (["stream", str(folder), "--model", str(DEMO), "--lr", "0.003"],
                    ["pull", "--out", str(out)], ["commit", "--force"]):
        code, output = _cli(url, *command)
        assert code == 0, output
    return out.read_bytes()


@pytest.fixture()
def provisioned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Emulator, Path]]:
    """A host twin provisioned with a fresh key that ``$TT_HOME/keys`` holds."""
    monkeypatch.setenv("TT_HOME", str(tmp_path / "home"))
    key_file, key = keys.generate()
    with Emulator(HOST, flash_image=tmp_path / "flash.img", log_path=tmp_path / "twin.log", key=key) as twin:
        yield twin, key_file


def _raw(session, opcode: int, payload: bytes = b"") -> tuple[int, int]:
    """(status, detail) of a request sent as it is."""
    try:
        session.request(opcode, payload, timeout=10.0)
    except DeviceError as exc:
        return exc.status, exc.detail
    return Status.OK, 0


@needs_cc
def test_auth_a_provisioned_board_trains_for_its_key_holder_the_same_bits(provisioned, samples: Path,
                                                                          tmp_path: Path) -> None:
    twin, key_file = provisioned
    code, output = _cli(twin.url, "info", "--json")
    assert code == 0 and '"auth": "required"' in output and auth.key_id(keys.load(key_file)).hex() in output
    keyed = _stream_pull_commit(twin.url, samples, tmp_path / "keyed.bin")
    with Emulator(HOST, flash_image=tmp_path / "open.img", log_path=tmp_path / "open.log") as open_twin:
        assert keyed == _stream_pull_commit(open_twin.url, samples, tmp_path / "open.bin"), \
            "signing changes nothing of what trains"


@needs_cc
def test_auth_unsigned_forged_and_replayed_requests_change_nothing(provisioned, samples: Path, tmp_path: Path) -> None:
    twin, key_file = provisioned
    with connected(twin) as session:
        assert _raw(session, Opcode.ROLLBACK, auth.sign(KEY, bytes(16), 1, Opcode.ROLLBACK, b"")) == (
            Status.UNAUTHORIZED, auth.AuthFailure.NO_NONCE), "no nonce issued since the board started"
    _stream_pull_commit(twin.url, samples, tmp_path / "deltas.bin")
    key = keys.load(key_file)
    with connected(twin) as session:
        nonce = NoncePayload.parse(session.request(Opcode.NONCE)[1]).nonce
        assert nonce != NoncePayload.parse(session.request(Opcode.NONCE)[1]).nonce, "each nonce is fresh"
        nonce = NoncePayload.parse(session.request(Opcode.NONCE)[1]).nonce
        revert = auth.sign(key, nonce, 5, Opcode.REVERT, b"")
        assert _raw(session, Opcode.REVERT, revert)[0] == Status.OK, "the key holder's request passes"
        before = session.stats(), session.pull(), session.hello().plan_hash
        assert _raw(session, Opcode.COMMIT) == (Status.UNAUTHORIZED, auth.AuthFailure.MISSING)
        assert _raw(session, Opcode.REVERT, revert) == (Status.UNAUTHORIZED, auth.AuthFailure.REPLAYED), \
            "the same request again (a new sequence number) is a replay"
        old = auth.sign(key, nonce, 4, Opcode.ROLLBACK, b"")
        assert _raw(session, Opcode.ROLLBACK, old) == (Status.UNAUTHORIZED, auth.AuthFailure.REPLAYED)
        forged = auth.sign(KEY, nonce, 6, Opcode.ROLLBACK, b"")  # another key
        assert _raw(session, Opcode.ROLLBACK, forged) == (Status.UNAUTHORIZED, auth.AuthFailure.BAD_TAG)
        wrong_op = auth.sign(key, nonce, 7, Opcode.REVERT, b"")  # a REVERT's signature on a ROLLBACK
        assert _raw(session, Opcode.ROLLBACK, wrong_op) == (Status.UNAUTHORIZED, auth.AuthFailure.BAD_TAG)
        session.request(Opcode.NONCE)  # voids the nonce signed with so far
        later = auth.sign(key, nonce, 9, Opcode.ROLLBACK, b"")
        assert _raw(session, Opcode.ROLLBACK, later) == (Status.UNAUTHORIZED, auth.AuthFailure.BAD_TAG)
        run = bytes(4) + bytes([0, 0, 1, 0]) + (1 << 16).to_bytes(4, "little")  # a training run, unsigned
        assert _raw(session, Opcode.SAMPLE_RUN, run) == (Status.UNAUTHORIZED, auth.AuthFailure.MISSING)
        assert (session.stats(), session.pull(), session.hello().plan_hash) == before, "nothing changed"
    code, output = _cli(twin.url, "rollback")
    assert code == 0, output
    other, _ = keys.generate(tmp_path / "other.key")
    result = runner.invoke(app, ["--link-baud", "off", "--key", str(other), "commit", "--force", "--port", twin.url])
    assert result.exit_code == KeyMissing.exit_code, result.output


@needs_cc
def test_auth_a_board_runs_only_packages_its_key_sealed(tmp_path: Path, samples: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A package in the model area that the key never approved (written while the board was open,
    or planted into a transfer) is not run at boot; one loaded under the key survives a restart."""
    monkeypatch.setenv("TT_HOME", str(tmp_path / "home"))
    key_file, key = keys.generate()
    flash = tmp_path / "flash.img"
    with Emulator(HOST, flash_image=flash, log_path=tmp_path / "open.log") as open_twin:
        _stream_pull_commit(open_twin.url, samples, tmp_path / "open.bin")
    with Emulator(HOST, flash_image=flash, log_path=tmp_path / "keyed.log", key=key) as twin:
        with connected(twin) as session:
            assert session.hello().plan_hash is None, "an unsealed package is not run"
        _stream_pull_commit(twin.url, samples, tmp_path / "keyed.bin")
    with Emulator(HOST, flash_image=flash, log_path=tmp_path / "again.log", key=key) as twin:
        with connected(twin) as session:
            info = session.hello()
            assert info.plan_hash is not None, "a sealed package runs after a restart"
            assert info.model_area_bytes == HOST.model_area_bytes - auth.SEAL_BYTES
            assert session.stats().commit_sequence > 0


@needs_cc
def test_auth_factory_provisioning_with_a_key_seals_the_package(tmp_path: Path, samples: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TT_HOME", str(tmp_path / "home"))
    key_file, key = keys.generate()
    flash = tmp_path / "flash.img"
    result = runner.invoke(app, ["flash", "--board", "host", "--model", str(DEMO), "--samples", str(samples),
                                 "--flash-image", str(flash), "--key", str(key_file)])
    assert result.exit_code == 0, result.output
    with Emulator(HOST, flash_image=flash, log_path=tmp_path / "twin.log", key=key) as twin:
        code, output = _cli(twin.url, "stream", str(samples), "--model", str(DEMO))
        assert code == 0, output
        assert "the device runs this plan" in output, "the sealed factory package runs: nothing uploaded"


@needs_cc
def test_auth_a_session_renews_a_nonce_the_board_no_longer_holds(provisioned, samples: Path, tmp_path: Path) -> None:
    twin, _ = provisioned
    _stream_pull_commit(twin.url, samples, tmp_path / "deltas.bin")
    with connected(twin) as session:
        first = session.commit()[0]
        session.request(Opcode.NONCE)  # as another host would: the session's nonce is void
        assert session.commit()[0] == first + 1, "signed again under a fresh nonce"
        session.reset()
        session.hello()
        assert session.commit()[0] == first + 2, "a reset loses the nonce; the session asks anew"


QEMU = resolve("f746-qemu")
needs_qemu = pytest.mark.skipif(not shutil.which("qemu-system-arm") or not shutil.which("arm-none-eabi-gcc"),
                                reason="needs qemu-system-arm and arm-none-eabi-gcc (scripts/setup.sh installs them)")


@needs_qemu
def test_auth_the_emulated_f746_draws_nonces_and_trains_for_its_key_holder(tmp_path: Path, samples: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """On the QEMU twin: nonces from the host's entropy through semihosting, SHA-256 of the package
    and of each sample on the emulated M7, signed stream + pull + commit, unsigned COMMIT refused."""
    monkeypatch.setenv("TT_HOME", str(tmp_path / "home"))
    _, key = keys.generate()
    for label in samples.iterdir():
        for extra in sorted(label.iterdir())[2:]:
            extra.unlink()
    with Emulator(QEMU, flash_image=tmp_path / "flash.img", log_path=tmp_path / "qemu.log", key=key) as board:
        with connected(board) as session:
            nonces = {NoncePayload.parse(session.request(Opcode.NONCE)[1]).nonce for _ in range(3)}
            assert len(nonces) == 3 and bytes(16) not in nonces
        _stream_pull_commit(board.url, samples, tmp_path / "deltas.bin")
        with connected(board) as session:
            assert _raw(session, Opcode.COMMIT) == (Status.UNAUTHORIZED, auth.AuthFailure.MISSING)
            assert session.stats().commit_sequence >= 1


@needs_cc
def test_auth_a_damaged_key_record_locks_the_board(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key record whose CRC fails never opens the board: every state-changing request is refused."""
    monkeypatch.setenv("TT_HOME", str(tmp_path))
    image = keyed_copy(build(HOST, if_needed=True), KEY, tmp_path / "damaged")
    data = bytearray(image.read_bytes())
    data[key_record_offset(image) + 10] ^= 0x01  # a bit of the key
    image.write_bytes(data)
    with Emulator(HOST, elf=image, flash_image=tmp_path / "flash.img", log_path=tmp_path / "twin.log") as twin:
        with connected(twin) as session:
            assert session.hello().auth == "locked"
            session.request(Opcode.NONCE)
            signed = auth.sign(KEY, bytes(16), 1, Opcode.ROLLBACK, b"")
            assert _raw(session, Opcode.ROLLBACK, signed) == (Status.UNAUTHORIZED, auth.AuthFailure.LOCKED)
        code, output = _cli(twin.url, "rollback")
        assert code == 64 + Status.UNAUTHORIZED, output
