"""Write the fuzzers' seed corpora, firmware/fuzz/corpus/<target>/seed-*, from the golden vectors.

Each seed is in its harness's input format (see the comment at the top of fuzz_<target>.c):

* proto: every protocol vector of ``tt_protocol.vectors`` twice, as raw wire bytes and as
  FRAME records (the harness re-adds CRC and COBS, so mutations land behind the CRC), plus
  sessions that upload a package (the vectors' tiny one, the executor vectors' plan, the demo
  model's) and train, pull, commit, reboot, roll back, with a power cut in the middle of one.
* plan: those packages, sealed and not, and ``tt_protocol.plan.corruptions()`` of the
  executor vectors' plan (each a plan the loader must refuse for a named reason).
* upload: whole transfers, a resumed one, one cut by a power failure, a tail chunk.
* store: the two slots holding records: one valid, both (sequence wrap-around), a factory
  record, torn ones, each with and without a commit and a rollback afterwards.

Seeds are rewritten on every run (stale ``seed-*`` files are removed); other files in the
folders (reproducers of fixed crashes, ``crash-*``) are kept as regression inputs.

    python3 firmware/fuzz/make_corpus.py
"""

from __future__ import annotations

import re
import functools
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO / "protocol"), str(REPO / "host")]

from tt_protocol import cobs
from tt_protocol import plan as P
from tt_protocol.cobs import CobsError
from tt_protocol.frame import (
    MAX_PAYLOAD,
    PROTOCOL_VERSION,
    Opcode,
    ProfileFlag,
    ProfilePayload,
    PullPayload,
    SampleDataHeader,
    SampleFlag,
    SampleRunPayload,
    crc32,
)
from tt_protocol.plan.corpus import corruptions
from tt_protocol.vectors import MODEL_A, all_vectors, tiny_package

CORPUS = HERE / "corpus"

# fuzz_proto.c's record kinds
RAW, FRAME, PACKAGE, REBOOT, CUT, KEY, SIGNED = range(7)


def record(kind: int, body: bytes = b"") -> bytes:
    out = b""
    for i in range(0, max(len(body), 1), 0xFFFF):
        out += bytes([kind]) + struct.pack("<H", len(body[i:i + 0xFFFF])) + body[i:i + 0xFFFF]
    return out


def frame_records(wire: bytes) -> bytes:
    """The wire bytes as FRAME records where a segment decodes to a frame with a valid CRC,
    RAW records (delimiters included) elsewhere."""
    out = b""
    for segment in wire.split(b"\0"):
        if not segment:
            continue
        try:
            frame = cobs.decode(segment)
        except CobsError:  # not COBS: keep the noise as noise
            frame = b""
        if len(frame) >= 10 and crc32(frame[:-4]) == int.from_bytes(frame[-4:], "little"):
            out += record(FRAME, frame[:-4])
        else:
            out += record(RAW, b"\0" + segment + b"\0")
    return out


def request(opcode: int, seq: int, payload: bytes = b"", kind: int = FRAME) -> bytes:
    """A request frame; ``kind`` SIGNED: the harness adds the key holder's trailer."""
    return record(kind, struct.pack("<BBHH", PROTOCOL_VERSION, opcode, seq, len(payload)) + payload)


def header_array(name: str) -> bytes:
    """A byte array of firmware/tests/executor_vectors.h (the compiler's plan for the vectors)."""
    text = (REPO / "firmware" / "tests" / "executor_vectors.h").read_text()
    body = re.search(rf"{name}\[\d+\] = \{{(.*?)\}};", text, re.DOTALL).group(1)
    return bytes(int(x, 16) for x in re.findall(r"0x[0-9a-fA-F]{2}", body))


def demo_package() -> bytes:
    """The demo model's package, last-layer scheme (the compiler, as `tt-host compile` runs it)."""
    from tt_host.compiler import TrainParams, compile_model, serialize

    compiled = compile_model(REPO / "examples" / "demo_model" / "fmnist6-demo-int8.tflite", "last-layer")
    blobs = serialize(compiled.schedule, compiled.plan, TrainParams(lr=0.05, seed=1), "demo")
    return blobs.plan + blobs.weights


def session(package: bytes, input_bytes: int, cut: int | None = None, keyed: bool = False) -> bytes:
    """Upload, train two samples, evaluate one, pull, profile, commit (maybe cut), reboot,
    revert, roll back, reset; ``keyed``: on a device provisioned with a key, every request signed."""
    send = functools.partial(request, kind=SIGNED if keyed else FRAME)
    out = (record(KEY, b"\0") if keyed else b"") + record(PACKAGE, package)
    seq = 1000
    for step in range(3):
        sample = bytes((7 * step + i) % 256 for i in range(input_bytes))
        for at in range(0, input_bytes, MAX_PAYLOAD - 4):
            out += send(Opcode.SAMPLE_DATA, seq, SampleDataHeader.build({"offset": at}) + sample[at:at + MAX_PAYLOAD - 4])
            seq += 1
        flags = SampleFlag.TRAIN if step < 2 else 0
        out += send(Opcode.SAMPLE_RUN, seq, SampleRunPayload.build(
            {"step": step, "label": step % 2, "flags": flags, "lr_scale": 1 << 16}))
        seq += 1
    out += send(Opcode.STATS, seq) + send(Opcode.PULL, seq + 1, PullPayload.build({"offset": 0, "length": 512}))
    out += send(Opcode.PROFILE, seq + 2, ProfilePayload.build({"first": 0, "flags": ProfileFlag.RESET}))
    if cut is not None:
        out += record(CUT, struct.pack("<H", cut))
    out += send(Opcode.COMMIT, seq + 3) + record(REBOOT) + send(Opcode.STATS, seq + 4)
    out += send(Opcode.REVERT, seq + 5) + send(Opcode.ROLLBACK, seq + 6) + send(Opcode.HELLO, seq + 7)
    return out + send(Opcode.RESET, seq + 8) + send(Opcode.HELLO, seq + 9)


def input_bytes(package: bytes) -> int:
    h = P.PlanHeader.parse(package)
    return h.input_h * h.input_w * h.input_c


def proto_seeds(packages: dict[str, bytes]) -> dict[str, bytes]:
    seeds = {}
    for v in all_vectors():
        seeds[f"raw-{v.name}"] = record(RAW, v.wire_in)
        framed = frame_records(v.wire_in)
        if framed != record(RAW, v.wire_in):
            seeds[f"frames-{v.name}"] = framed
    for name, package in packages.items():
        seeds[f"session-{name}"] = session(package, input_bytes(package))
    seeds["session-tiny-cut-commit"] = session(packages["tiny"], input_bytes(packages["tiny"]), cut=7)
    seeds["session-demo-keyed"] = session(packages["demo"], input_bytes(packages["demo"]), keyed=True)
    seeds["session-tiny-keyed-unsigned"] = record(KEY, b"\0") + session(packages["tiny"], input_bytes(packages["tiny"]))
    return seeds


def plan_seeds(packages: dict[str, bytes], plan: bytes, weights: bytes) -> dict[str, bytes]:
    seeds = {}
    for name, package in packages.items():
        seeds[f"{name}-eval"] = b"\x00" + package
        seeds[f"{name}-sealed-train"] = b"\x13" + package
    for c in corruptions(plan, weights):
        if c.arena_limit is None:
            seeds[f"corrupt-{c.name}"] = b"\x02" + c.plan + c.weights
    return seeds


def upload_seeds(package: bytes) -> dict[str, bytes]:
    BEGIN, CHUNK, END, CUT_OP, REBOOT_OP = range(5)

    def begin(data: bytes) -> bytes:
        return bytes([BEGIN]) + struct.pack("<II", len(data), crc32(data))

    def chunks(data: bytes, start: int = 0, size: int = 1020) -> bytes:
        out = b""
        for at in range(start, len(data), size):
            out += bytes([CHUNK]) + struct.pack("<IH", at, len(data[at:at + size])) + data[at:at + size]
        return out

    tail = bytes(range(1, 11))
    return {
        "whole": begin(package) + chunks(package) + bytes([END]),
        "tail": begin(tail) + chunks(tail, size=8) + bytes([END]),
        "resume": begin(package) + chunks(package[:2040]) + begin(package) + chunks(package, 2040) + bytes([END]),
        "cut-then-again": begin(package) + bytes([CUT_OP]) + struct.pack("<H", 300) + chunks(package)
        + bytes([REBOOT_OP]) + begin(package) + chunks(package) + bytes([END]),
        "bad-crc": bytes([BEGIN]) + struct.pack("<II", len(tail), 0) + chunks(tail, size=8) + bytes([END]),
    }


def store_seeds() -> dict[str, bytes]:
    def slot(sequence: int, flags: int = 0, payload: bytes = b"\x01\x00\x00\x00" + bytes(range(64))) -> bytes:
        header = struct.pack("<IIIII", 0x53575454, sequence, flags, len(payload), crc32(payload)) + bytes(32)
        return header + struct.pack("<I", crc32(header)) + payload

    def seed(flags: int, a: bytes, b: bytes = b"") -> bytes:
        return bytes([flags]) + struct.pack("<H", len(a)) + a + b

    restore = 0x01 | 0x04 | 0x08 | 0x10  # seal A, tag and length of the plan's commit, a package
    return {
        "empty": seed(0x10, b""),
        "one-record": seed(0, slot(1)),
        "both-records": seed(0, slot(7), slot(8)),
        "sequence-wraps": seed(0, slot(0xFFFFFFFF), slot(0)),
        "factory": seed(0x10, slot(3, flags=1, payload=b""), slot(2)),
        "torn-header": seed(0, slot(4)[:40], slot(3)),
        "restore": seed(restore, slot(5)),
        "restore-both": seed(restore | 0x02, slot(5), slot(6)),
        "restore-train-commit-rollback": seed(restore | 0xE0, slot(5)),
        "commit-on-empty": seed(0x10 | 0x40, b""),
    }


def write(target: str, seeds: dict[str, bytes]) -> int:
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("seed-*"):
        if stale.name[len("seed-"):] not in seeds:
            stale.unlink()
    for name, data in seeds.items():
        (folder / f"seed-{name}").write_bytes(data)
    return sum(len(d) for d in seeds.values())


def main() -> None:
    plan, weights = header_array("tt_ev_plan"), header_array("tt_ev_weights")
    packages = {"tiny": tiny_package(MODEL_A), "vectors": plan + weights, "demo": demo_package()}
    total = write("proto", proto_seeds(packages))
    total += write("plan", plan_seeds(packages, plan, weights))
    total += write("upload", upload_seeds(packages["vectors"]))
    total += write("store", store_seeds())
    print(f"make_corpus: {total:,} bytes of seeds in {CORPUS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
