"""The compiler's branch of the ``tt_host`` exception tree.

Every error about the input is a :class:`~tt_host.errors.UsageError` (exit code 2): the model
or scheme the user passed cannot be compiled as given, and the message says which part and why;
:class:`PlanError`, a broken invariant of the planner's own output, is a bug (exit code 1). A plan that
does not fit the memory budget is a :class:`~tt_host.errors.BudgetExceeded` (exit code 8),
like an image that does not fit the board.
"""

from __future__ import annotations

from collections.abc import Iterable

from tt_host.errors import BudgetExceeded, TtError, UsageError


class CompileError(UsageError):
    """A model or scheme that the training compiler cannot turn into a plan."""


class UnsupportedOperator(CompileError):
    """The model holds an operator outside the compiler's supported set."""

    def __init__(self, op: str, index: int, supported: Iterable[str], why: str = "") -> None:
        self.op = op
        self.index = index
        self.supported = tuple(supported)
        detail = f" ({why})" if why else ""
        super().__init__(
            f"operator {index} is {op}{detail}; the training compiler supports "
            + ", ".join(self.supported)
        )


class SchemeError(CompileError):
    """A sparse-update scheme that does not fit the model (bad index, ratio, channel)."""


class PlanError(TtError):
    """The memory plan breaks its own invariant (overlap, misalignment): a planner bug, not the
    user's input (exit code 1, "unexpected error: please report it")."""


class PlanBudgetExceeded(BudgetExceeded):
    """The training step needs more SRAM than the budget allows."""


class StoreBudgetExceeded(BudgetExceeded):
    """The trained parameters are more than the device's parameter store holds in one COMMIT,
    so a stream could not keep its best epoch."""
