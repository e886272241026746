"""``python -m gradlab.bench``: one benchmark run in this process, its JSON written to --json-out.

``run_full`` starts this as a child process, once per BLAS environment."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gradlab.bench import run
from gradlab.bench.timing import blas_label


def main(argv: list[str] | None = None) -> int:
    """``python -m gradlab.bench``: one run in this process, its JSON to --json-out (run_full's child)."""
    parser = argparse.ArgumentParser(prog="python -m gradlab.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--json-out", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-extras", action="store_true", help="skip the memory table and the scaling and length sweeps")
    for flag in ("--models", "--sizes", "--dtypes", "--impls"):
        parser.add_argument(flag)
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    extras = False if args.no_extras else None
    result = run(args.quick, args.models, args.sizes, args.dtypes, args.impls, args.repeats, threads=args.threads,
                 memory=extras, scaling=extras, progress=lambda msg: print(f"  [{blas_label(args.threads)}] {msg}",
                                                                            file=sys.stderr, flush=True))
    Path(args.json_out).write_text(result.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
