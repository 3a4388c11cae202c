"""Asking a device what it sees: evaluation runs of single files, predictions as label names.

The device runs its plan's forward (SAMPLE_RUN without TRAIN: nothing changes but its
counters) and answers a class index; the plan's label names, from the plan in the host's
cache, turn it into a name. A file inside a label folder (``coat/013.png``) counts as a sample
of that label, so a whole sample folder can be checked at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from tt_protocol import plan as P

from tt_host.workflows import samples as samples_mod
from tt_host.workflows.cache import Cache
from tt_host.errors import UsageError
from tt_host.link.session import DeviceSession


@dataclasses.dataclass(frozen=True)
class Prediction:
    path: Path
    predicted: str  #: the label name (the class index when the plan has no names)
    expected: str | None  #: the label folder's name, when it is one of the plan's labels
    loss: float | None  #: against ``expected``; None without it

    @property
    def correct(self) -> bool | None:
        return None if self.expected is None else self.predicted == self.expected


def files_of(paths: Iterable[str | Path]) -> list[Path]:
    """The sample files named, folders expanded (a sample folder or one label's folder)."""
    out: list[Path] = []
    suffixes = samples_mod.IMAGE_SUFFIXES + samples_mod.ARRAY_SUFFIXES
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in suffixes)
        elif p.is_file():
            out.append(p)
        else:
            raise samples_mod.SampleError(f"{p}: no such file or folder")
    if not out:
        raise samples_mod.SampleError("no sample files to predict")
    return out


def predict(session: DeviceSession, cache: Cache, paths: Iterable[str | Path]) -> list[Prediction]:
    """Evaluate each file on the device; predictions named after the plan's labels."""
    info = session.hello()
    if info.plan_hash is None:
        raise UsageError("the device runs no plan: nothing to predict with (stream samples first)")
    cached = cache.plan(info.plan_hash)
    if cached is None:
        raise UsageError(f"the device runs plan {info.plan_hash[:16]}..., which this computer has not uploaded: "
                         "its input shape and label names are unknown here")
    h = P.PlanHeader.parse(cached.plan)
    labels = cached.labels or tuple(str(i) for i in range(h.n_classes))
    session.sample_stride = h.input_c
    out = []
    for path in files_of(paths):
        expected = path.parent.name if path.parent.name in labels else None
        sample = samples_mod.load_input(path, (h.input_h, h.input_w, h.input_c), (h.input_scale, h.input_zp))
        session.send_sample(sample.tobytes())
        r = session.run_sample(labels.index(expected) if expected else 0, train=False)
        out.append(Prediction(path, labels[r.predicted], expected, r.loss if expected else None))
    return out
