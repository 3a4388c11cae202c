"""The training recipe: every default of on-device training, in one place.

A plan carries the rates and bounds (:class:`tt_host.compiler.TrainParams`, whose defaults
are the constants here); a stream sends each training step's learning-rate scale from
:class:`LrSchedule`. ``docs/LEARNING.md`` says how each number was chosen and what it was
measured against.

* **Rates.** Plain SGD with QAS (so a rate means what it means for the float model) at
  :data:`LR`; the classifier, which is new (imprinted or zero) while the backbone is
  pretrained, at :data:`HEAD_LR_RATIO` times that.
* **Step bounds.** One sample moves a trained int8 weight by at most
  :data:`WEIGHT_STEP_MAX` quantization steps and a bias by at most :data:`BIAS_STEP_MAX` steps
  of its layer's output quantization. A confidently wrong sample at batch 1 otherwise moves
  weights by tens to hundreds of steps at once (the collapse ``docs/LEARNING.md`` traces); the
  bound caps what one sample can undo, while an ordinary step (a small fraction of a
  quantization step, stochastically rounded) passes unchanged.
* **Schedule.** Linear warm-up over the first :data:`WARMUP_FRACTION` of the stream's steps
  (at most :data:`WARMUP_MAX_STEPS`), then cosine decay to :data:`FINAL_SCALE` of the rate.
* **New head.** A classifier for new labels starts imprinted from the training samples
  (:data:`HEAD_INITS`: "imprint", or "zero").
* **Divergence guard.** The device stops training after :data:`DIVERGE_AFTER` consecutive
  samples of more than one label with identical logits (the output no longer depends on the
  input: the collapse), and skips the update of a sample whose logits all sit at an int8 bound
  (no gradient passes them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tt_protocol.frame import LR_SCALE_ONE as SCALE_ONE

LR = 0.003
HEAD_LR_RATIO = 1.0
WEIGHT_STEP_MAX = 1.0
BIAS_STEP_MAX = 1.0
DIVERGE_AFTER = 8
WARMUP_FRACTION = 0.05
WARMUP_MAX_STEPS = 100
FINAL_SCALE = 0.1
HEAD_INITS = ("imprint", "zero")  #: the first is the default


@dataclass(frozen=True)
class LrSchedule:
    """The learning-rate scale of every step of a stream of ``total`` steps, in Q16: linear
    warm-up from ``1 / warmup`` to 1 over ``warmup`` steps, then half a cosine down to
    ``final``. A step past ``total`` (a stream extended beyond its schedule) keeps ``final``."""

    total: int
    warmup: int
    final: float = FINAL_SCALE

    @classmethod
    def for_steps(cls, total: int) -> LrSchedule:
        """The recipe's schedule for a stream of ``total`` training steps."""
        warmup = min(WARMUP_MAX_STEPS, max(1, round(WARMUP_FRACTION * total)))
        return cls(total, warmup)

    def factor(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        span = max(self.total - self.warmup, 1)
        t = min((step - self.warmup) / span, 1.0)
        return self.final + (1.0 - self.final) * 0.5 * (1.0 + math.cos(math.pi * t))

    def scale_q16(self, step: int) -> int:
        """``SampleRunPayload.lr_scale`` of training step ``step`` (0-based)."""
        return max(1, min(SCALE_ONE, round(self.factor(step) * SCALE_ONE)))
