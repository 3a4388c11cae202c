"""Bad input on the host, tried as a new user would: each gets a clear message naming what was
wrong and a documented exit code, and the inputs a command can check are checked before any
port is opened (the README's "Bad input" table). The port given here refuses connections, so a
command that opened it before checking its inputs would exit 3, not 2."""

from __future__ import annotations

import shutil
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tt_host.cli.app import app
from tt_host.errors import LinkError, UsageError
from tt_host.paths import REPO_ROOT
from tt_host.tooling.boards import resolve
from tt_host.tooling.emulator import Emulator

DEMO = REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite"
CAMERA = REPO_ROOT / "examples" / "camera_samples"
CLOSED_PORT = "socket://127.0.0.1:1"
runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture
def good(tmp_path: Path) -> Path:
    """A sample folder with two labels of real camera samples."""
    root = tmp_path / "samples"
    for label in ("coat", "sneaker"):
        (root / label).mkdir(parents=True)
        for f in sorted((CAMERA / label).iterdir())[:6]:
            shutil.copy(f, root / label / f.name)
    return root


def test_a_file_that_is_not_a_model_is_bad_input(tmp_path: Path) -> None:
    junk = tmp_path / "notes.tflite"
    junk.write_text("not a model")
    for command in (["compile", str(junk), "--out", str(tmp_path / "o")], ["check", str(junk)]):
        code, text = _run(*command)
        assert code == UsageError.exit_code and f"{junk}: not a TFLite flatbuffer" in text


def test_a_truncated_model_is_bad_input(tmp_path: Path) -> None:
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(DEMO.read_bytes()[:3000])
    code, text = _run("compile", str(cut), "--out", str(tmp_path / "o"))
    assert code == UsageError.exit_code and "a corrupt or truncated TFLite file" in text and "internal" not in text
    code, text = _run("stream", str(CAMERA), "--port", CLOSED_PORT, "--model", str(cut))
    assert code == UsageError.exit_code and str(cut) in text


def test_a_missing_or_empty_sample_folder_stops_before_the_port(tmp_path: Path) -> None:
    code, text = _run("stream", str(tmp_path / "nowhere"), "--port", CLOSED_PORT)
    assert code == UsageError.exit_code and "is not a folder" in text
    (tmp_path / "empty" / "label").mkdir(parents=True)
    code, text = _run("stream", str(tmp_path / "empty"), "--port", CLOSED_PORT)
    assert code == UsageError.exit_code and "no samples in" in text


def test_an_unreadable_image_stops_before_the_port(good: Path) -> None:
    bad = good / "coat" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n and then nothing")
    for command in (["stream", str(good)], ["predict", str(good / "coat")]):
        code, text = _run(*command, "--port", CLOSED_PORT)
        assert code == UsageError.exit_code and f"{bad}: not a readable image" in text


def test_a_wrong_shaped_array_stops_before_the_port(good: Path) -> None:
    np.save(good / "coat" / "odd.npy", np.zeros((5, 5), np.int8))
    code, text = _run("stream", str(good), "--port", CLOSED_PORT, "--model", str(DEMO))
    assert code == UsageError.exit_code and "odd.npy: array of shape (5, 5), expected the model's input shape (32, 32, 3)" in text


def test_deltas_of_another_model_are_refused(tmp_path: Path) -> None:
    code, text = _run("export", str(DEMO), "--deltas", str(DEMO), "--out", str(tmp_path / "x.tflite"))
    assert code == UsageError.exit_code and "not a valid deltas file" in text


def test_a_port_nobody_answers_on_is_a_link_error(good: Path) -> None:
    code, text = _run("stream", str(good), "--port", CLOSED_PORT)
    assert code == LinkError.exit_code and "Could not open port" in text


class _CuttingProxy:
    """Forwards a TCP client to ``target`` and hangs up both sides once ``limit`` bytes went to the
    device: a cable pulled mid-stream."""

    def __init__(self, target: str, limit: int) -> None:
        host, port = target.removeprefix("socket://").rsplit(":", 1)
        self.target, self.limit = (host, int(port)), limit
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        client, _ = self.listener.accept()
        device = socket.create_connection(self.target)
        sent = 0

        def back() -> None:
            try:
                while data := _recv(device):
                    client.sendall(data)
            except OSError:  # the other direction hung up
                pass

        threading.Thread(target=back, daemon=True).start()
        while sent < self.limit and (data := _recv(client)):
            device.sendall(data)
            sent += len(data)
        for s in (client, device, self.listener):
            s.close()


def _recv(s: socket.socket) -> bytes:
    try:
        return s.recv(4096)
    except OSError:
        return b""


@pytest.mark.skipif(not shutil.which("cmake") or not shutil.which("cc"), reason="needs cmake and a C compiler")
def test_a_link_lost_mid_stream_is_a_link_error_that_says_how_to_resume(good: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TT_HOME", str(tmp_path / "home"))
    with Emulator(resolve("host"), flash_image=tmp_path / "flash.img", log_path=tmp_path / "log") as twin:
        proxy = _CuttingProxy(twin.url, limit=45_000)  # the 40 KB package and a few samples
        code, text = _run("--link-baud", "off", "stream", str(good), "--port", proxy.url, "--model", str(DEMO),
                          "--lr", "0.003")
        assert code == LinkError.exit_code and "run the same command again to resume" in text
        code, text = _run("--link-baud", "off", "stream", str(good), "--port", twin.url, "--model", str(DEMO),
                          "--lr", "0.003")
        assert code == 0, text
