"""Lossless codecs for the int8 samples a stream sends, measured on the camera samples.

For the demo's input (32x32x3) and the shared models' (128x128x3), every camera sample made
into the model's int8 input as ``tt-host stream`` makes it (``load_input``), cut into
independent chunks of one frame's data (1,020 bytes, each decodable on its own, as SAMPLE_PACKED
requires): the ratio of raw bytes to coded bytes of

- ``packbits``: PackBits runs over the bytes;
- ``delta+packbits``: PackBits over the differences to the same channel of the pixel to the left;
- ``best of both``: the better of the two per chunk (what the host may choose);
- ``delta+rice``: a Rice code of the zigzagged deltas with a 3-bit k per 16 values (a
  bit-level decoder; the reference for what entropy coding would add);
- ``zlib -9``: the reference for a general-purpose codec (too big a decoder for the device).

Then the bytes one sample really puts on the wire as the session sends it (frames, COBS,
delimiters, the device's answers included): SAMPLE_DATA only, and SAMPLE_PACKED where it saves
bytes (chunks of up to 8,192 decoded bytes in one frame). With ``--device`` it also boots the
emulated F746 (QEMU ``-icount shift=0``), loads the demo's plan and times the same sample sent
raw and packed: the difference of the evaluation steps' ticks (which include the sample's
feed) is the decoder's cost over a plain copy, in instructions per sample byte; the same on a
MobileNetV2-w0.35 plan at 128x128 (its plan streams the input into its first block) when the
shared models are there.

    python bench/sample_codecs.py            # writes bench/results/sample_codecs.json
    python bench/sample_codecs.py --device   # also the decode cost on the emulated Cortex-M7 (a few minutes)
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from pathlib import Path

import numpy as np
from tt_protocol import packbits
from tt_protocol.frame import (
    SAMPLE_CHUNK_MAX_DATA,
    Opcode,
    SampleProgressPayload,
    encode_frame,
    to_wire,
)

from tt_host.link.session import DeviceSession
from tt_host.link.transport import LoopbackTransport
from tt_host.paths import REPO_ROOT, SHARED_DIR
from tt_host.workflows.samples import load_input, scan

SAMPLES = REPO_ROOT / "examples" / "camera_samples"
DEMO = REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite"
MBV2 = SHARED_DIR / "models" / "mbv2-w0.35-int8.tflite"
RESULTS = REPO_ROOT / "bench" / "results" / "sample_codecs.json"
SHAPES = {"demo 32x32x3": (32, 32, 3), "128x128x3": (128, 128, 3)}


def rice_bytes(deltas: bytes, block: int = 16) -> int:
    """Bytes of a Rice code of the zigzagged int8 deltas, the best k (3 bits) per block."""
    s = np.frombuffer(deltas, dtype=np.int8).astype(np.int32)
    u = (s << 1) ^ (s >> 31)
    bits = 0
    for i in range(0, len(u), block):
        b = u[i:i + block]
        bits += 3 + min(int(np.sum(b >> k)) + len(b) * (1 + k) for k in range(8))
    return (bits + 7) // 8


def codec_ratios(inputs: list[bytes], channels: int) -> dict[str, float]:
    totals = dict.fromkeys(("packbits", "delta+packbits", "best of both", "delta+rice", "zlib -9"), 0)
    raw = 0
    for x in inputs:
        for at in range(0, len(x), SAMPLE_CHUNK_MAX_DATA):
            chunk = x[at:at + SAMPLE_CHUNK_MAX_DATA]
            raw += len(chunk)
            plain = len(packbits.encode(chunk, 1 << 20)[0])
            deltas = packbits.delta(chunk, channels)
            delta = len(packbits.encode(deltas, 1 << 20)[0])
            sizes = {"packbits": plain, "delta+packbits": delta, "best of both": min(plain, delta),
                     "delta+rice": rice_bytes(deltas), "zlib -9": len(zlib.compress(chunk, 9))}
            for name, n in sizes.items():
                totals[name] += min(n, len(chunk))  # a chunk that does not shrink goes raw
    return {name: round(raw / n, 3) for name, n in totals.items()}


def wire_bytes(x: bytes, channels: int, packed: bool) -> int:
    """Bytes on the wire, both ways, of sending ``x`` as the session does."""
    session = DeviceSession(LoopbackTransport(lambda data: b""), timeout=0.01)
    session.packed_samples, session.sample_stride = packed, channels
    sent = total = 0
    while sent < len(x):
        opcode, payload = session._sample_chunk(x, sent)
        decoded = len(payload) - 4 if opcode == Opcode.SAMPLE_DATA else int.from_bytes(payload[4:6], "little")
        sent += decoded
        answer = SampleProgressPayload.build(dict(received=sent, input_bytes=len(x)))
        total += len(to_wire(encode_frame(opcode, 1, payload))) + len(to_wire(encode_frame(opcode | 0x80, 1, answer)))
    return total


def decode_cost(model: Path, inputs: list[bytes]) -> dict[str, float]:
    """Instructions per sample byte SAMPLE_PACKED costs over SAMPLE_DATA on the emulated F746,
    on ``model``'s plan for the camera samples' labels."""
    import subprocess
    import tempfile

    from tt_host.compiler import blob
    from tt_host.link.transport import open_transport
    from tt_host.tooling import boards
    from tt_host.tooling.emulator import Emulator

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "tt_host", "compile", str(model), "--samples", str(SAMPLES), "--lr", "0.003", "--out", tmp,
                        "--json"], check=True, capture_output=True)
        package = blob.package((Path(tmp) / "plan.bin").read_bytes(), (Path(tmp) / "weights.bin").read_bytes())
    extra = decoded = 0
    with Emulator(boards.resolve("f746-qemu")) as emulator, open_transport(emulator.url) as transport:
        session = DeviceSession(transport, timeout=10.0)
        session.hello()
        session.upload(package, replace_model=True)
        session.sample_stride = 3
        for x in inputs:
            ticks = []
            for packed in (False, True):
                session.packed_samples = packed
                session.send_sample(x)
                ticks.append(session.run_sample(0, train=False).ticks)
            extra += ticks[1] - ticks[0]
            decoded += len(x)
        tick_ns = 1e9 / session.stats().tick_hz
    return {"samples": len(inputs), "instructions_per_byte_over_copy": round(extra * tick_ns / decoded, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", action="store_true", help="also measure the decode cost on QEMU")
    args = parser.parse_args()
    files = [s.path for s in scan(SAMPLES).samples]
    out: dict[str, object] = {"samples": len(files), "chunk_bytes": SAMPLE_CHUNK_MAX_DATA, "shapes": {}}
    for name, shape in SHAPES.items():
        inputs = [load_input(f, shape).tobytes() for f in files]
        raw = np.mean([wire_bytes(x, shape[2], packed=False) for x in inputs])
        packed = np.mean([wire_bytes(x, shape[2], packed=True) for x in inputs])
        row = {"sample_bytes": len(inputs[0]), "ratios": codec_ratios(inputs, shape[2]),
               "wire_bytes_raw": round(float(raw)), "wire_bytes_packed": round(float(packed)),
               "wire_ratio": round(float(raw / packed), 3)}
        out["shapes"][name] = row
        print(f"{name}: {json.dumps(row)}")
    if args.device:
        for name, model in (("demo 32x32x3", DEMO), ("128x128x3", MBV2)):
            if model.exists():
                inputs = [load_input(f, SHAPES[name]).tobytes() for f in files[::30]]
                out["shapes"][name]["decode_cost"] = cost = decode_cost(model, inputs)
                print(f"{name} decode cost: {json.dumps(cost)}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
