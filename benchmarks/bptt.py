"""Time one forward + backward of gradlab's NumPy BPTT against JAX jit and PyTorch; write benchmarks/results/.

    python benchmarks/bptt.py                 # the full run (~20 min on 2 cores): child processes with
                                              # OPENBLAS_CORETYPE/L2_SIZE unset (and as set, if set)
    python benchmarks/bptt.py --quick         # teaching + medium, float64, in this process (< 2 min)
    python benchmarks/bptt.py --models lstm --sizes medium --dtypes float32 --repeats 20

A thin script: the library is gradlab.bench (``gradlab bench`` runs the same). benchmarks/README.md says
how the numbers are made and what each optimisation of the NumPy BPTT bought.
"""

from __future__ import annotations

import argparse
import sys

from gradlab import bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="teaching + medium, float64, few repeats, in-process")
    parser.add_argument("--models", help="comma-separated: rnn, lstm, gru, gru-cho (default rnn,lstm,gru)")
    parser.add_argument("--sizes", help="comma-separated: teaching, medium, large")
    parser.add_argument("--dtypes", help="comma-separated: float64, float32")
    parser.add_argument("--impls", help="comma-separated: numpy, jax-jit, torch-fused, torch-cell")
    parser.add_argument("--repeats", type=int, help="timed repeats per row (default per size)")
    parser.add_argument("--threads", default="1", help="threads for every library; the full run takes several, "
                                                       "e.g. 1,2 (default 1)")
    parser.add_argument("--out", default=str(bench.RESULTS_DIR), help="where bptt.md/.json/.png go")
    args = parser.parse_args(argv)
    options = {"models": args.models, "sizes": args.sizes, "dtypes": args.dtypes, "impls": args.impls,
               "repeats": args.repeats}
    threads = [int(n) if n.strip().isdigit() else n for n in args.threads.split(",")]
    try:
        if args.quick:
            result = bench.run(quick=True, out_dir=args.out, threads=threads[0],
                               progress=lambda m: print(m, file=sys.stderr), **options)
        else:
            result = bench.run_full(out_dir=args.out, threads=threads, **options)
    except (ValueError, TypeError) as exc:
        print(f"bptt.py: error: {exc}", file=sys.stderr)
        return 2
    print(result.to_markdown())
    return 0 if all(a.ok for a in result.agreement) else 1


if __name__ == "__main__":
    sys.exit(main())
