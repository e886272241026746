"""How long `gradlab check` takes on a correct min-char-rnn submission at its own size (H=100, T=25,
V=65): the issue's target is under 10 s wall on 2 cores.

    python benchmarks/check_speed.py [--repeats 3] [FILE]

Prints the wall time of each whole check (both child runs, the prefixes and the finite differences)
and the sandbox's own CPU and wall figures, with the load average so a busy machine is visible.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from gradlab.student import check

DEFAULT = Path(__file__).resolve().parents[1] / "examples" / "minchar_rnn.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default=str(DEFAULT))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    walls = []
    for k in range(args.repeats):
        start = time.perf_counter()
        result = check(args.file)
        walls.append(time.perf_counter() - start)
        sandbox = result.to_dict()["sandbox"]
        print(f"run {k + 1}: verdict {result.verdict}, wall {walls[-1]:.2f} s "
              f"(sandbox cpu {sandbox['cpu_s']:.2f} s, wall {sandbox['wall_s']:.2f} s), "
              f"load {os.getloadavg()[0]:.1f}")
    print(f"median wall {sorted(walls)[len(walls) // 2]:.2f} s over {len(walls)} runs (target < 10 s)")


if __name__ == "__main__":
    main()
