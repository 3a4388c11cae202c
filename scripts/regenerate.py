#!/usr/bin/env python3
"""Regenerate every generated file of the project from its one source of truth.

    python3 scripts/regenerate.py           # write the files that are stale
    python3 scripts/regenerate.py --check   # list them and exit 1 (tests/test_generated.py)

=======================================  ==================================================
file                                     generated from
=======================================  ==================================================
firmware/include/tt/protocol_gen.h       tt_protocol.codegen: frame formats, opcodes, statuses
firmware/tests/protocol_vectors.h        tt_protocol.codegen: golden protocol exchanges
firmware/include/tt/plan_gen.h           tt_protocol.codegen: plan, weights and deltas formats
firmware/tests/kernels/kernel_vectors.h  tt_host.reference.vectors: the numpy kernels
firmware/tests/kernels/fused_vectors.h   tt_host.reference.vectors_fused: sparse/fused kernels
firmware/tests/executor_vectors.h        firmware/tests/gen_executor_vectors.py: a compiled
                                         plan and its corruption corpus
=======================================  ==================================================

Run it after changing a format (protocol/tt_protocol), a numpy reference kernel or the
compiler; a stale file fails the tests with the name of this command.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _executor_vectors():
    spec = importlib.util.spec_from_file_location("gen_executor_vectors",
                                                  REPO / "firmware" / "tests" / "gen_executor_vectors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generators() -> dict[Path, Callable[[], str]]:
    """Each generated file and the function that renders its contents (rendered on demand:
    some compile a model)."""
    from tt_protocol import codegen

    from tt_host.reference import vectors, vectors_fused

    executor = _executor_vectors()
    return {
        codegen.HEADER_PATH: codegen.render_header,
        codegen.VECTORS_PATH: codegen.render_vectors,
        codegen.PLAN_HEADER_PATH: codegen.render_plan_header,
        vectors.HEADER: vectors.render,
        vectors_fused.HEADER: vectors_fused.render,
        executor.HEADER: executor.render,
    }


def is_current(path: Path, render: Callable[[], str]) -> bool:
    return path.is_file() and path.read_text() == render()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only list the stale files; exit 1 if any")
    args = parser.parse_args(argv)
    stale = []
    for path, render in generators().items():
        text = render()
        if path.is_file() and path.read_text() == text:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(text)
            print(f"wrote {path.relative_to(REPO)}")
    if args.check:
        for path in stale:
            print(f"{path.relative_to(REPO)} is stale: run python3 scripts/regenerate.py", file=sys.stderr)
        return 1 if stale else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
