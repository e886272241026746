"""Measure the errors behind gradlab/tolerances.py: every oracle against the hand-written backward
on random problems (sizes T<=12, B<=4, D,H,V<=8; every entry scale * U(-1, 1) with scale 0.1, 1 or 3,
recurrent matrices divided by sqrt(H) as in tests/support.py: saturating tanh and gates).

    python benchmarks/tolerance_sweep.py [--problems 200] [--dtype float64]

Prints, per oracle, the largest relative error seen (floored as in compare.py) and its ratio to the
tolerance in force: a ratio near 1 means the table is too tight, far below 1e-3 means it could be tighter.
"""

from __future__ import annotations

import argparse

import numpy as np

from gradlab.compare import compare_all
from gradlab.models.registry import MODELS
from gradlab.models.sizes import Sizes
from gradlab.oracles import finite_diff, jax_models
from gradlab.tolerances import tolerance


def sweep(problems: int, dtype: str, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    worst: dict[str, float] = {}
    for k in range(problems):
        for model in MODELS.values():
            sizes = Sizes(int(rng.integers(1, 13)), int(rng.integers(1, 5)), *(int(v) for v in rng.integers(1, 9, 3)))
            theta, xs, targets = model.random_problem(sizes, seed=int(rng.integers(1 << 31)), dtype=dtype)
            scale = float(rng.choice([0.1, 1.0, 3.0]))
            theta = {n: (scale * rng.uniform(-1, 1, v.shape) / (np.sqrt(sizes.H) if n in ("W_hh", "W_h") else 1))
                     .astype(dtype) for n, v in theta.items()}
            theta64 = {n: v.astype(np.float64) for n, v in theta.items()}
            _, ours = model.grads(theta, xs, targets)
            loss = lambda th: model.loss(th, xs.astype(th["h0"].dtype), targets)  # noqa: B023 (used in this pass)
            oracles = {
                "jax-reverse": jax_models.reverse(model.name, theta64, xs, targets)[1],
                "complex-step": finite_diff.complex_step(loss, theta64),
                "central": finite_diff.central_differences(loss, theta64),
            }
            jax_models.clear_caches()  # one compile per shape: keep the process's memory maps bounded
            for oracle, theirs in oracles.items():
                for r in compare_all(ours, theirs, tolerance(dtype, oracle), oracle):
                    key = f"{model.name} {oracle}"
                    worst[key] = max(worst.get(key, 0.0), r.max_rel_err)
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=200)
    parser.add_argument("--dtype", default="float64")
    args = parser.parse_args()
    for key, value in sorted(sweep(args.problems, args.dtype).items()):
        rtol = tolerance(args.dtype, key.split()[1]).rtol
        print(f"{key:28s} max rel err {value:.2e}  rtol {rtol:.0e}  ratio {value / rtol:.1e}")


if __name__ == "__main__":
    main()
