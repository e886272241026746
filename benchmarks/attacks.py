"""The attack outcome table: every attack of SANDBOX.md checked in the sandbox, with its outcome and time to verdict.

    .venv/bin/python benchmarks/attacks.py                 # the best tier here; writes benchmarks/results/attacks.md
    .venv/bin/python benchmarks/attacks.py --tiers A,C --readme   # also forced lower tiers; README too
    .venv/bin/python benchmarks/attacks.py --only fork_bomb,zip_bomb --out -   # print, write nothing

The attacks, their sources and the outcome each tier promises are tests/student/attacks/catalogue.py (the
same rows the attack tests assert); each run is wrapped in the same health checks (health.py): no process,
file or sandbox directory left, the grader's RSS bounded, the canary sockets untouched. An attack a tier
cannot promise is run and shown as "not contained (expected: ...)"; one unsafe to run there is not run.
"Time to verdict" is the wall time of ``check()``, from the call to the verdict, on this machine as it was
(other work included): a measurement to read, never a pass/fail threshold.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gradlab.student import check, isolation
from tests.student.attacks.catalogue import ATTACKS, BY_NAME, Attack, source
from tests.student.attacks.health import Health

OUT = ROOT / "benchmarks" / "results" / "attacks.md"
START, END = "<!-- attacks:start -->\n", "<!-- attacks:end -->"
HEADER = "| attack | family | tier | outcome | contained | time to verdict |\n|---|---|---|---|---|---:|"


def outcome(result) -> str:
    """The verdict, and the error kind when it is an error."""
    return f"error: {result.error['kind']}" if result.verdict == "error" else result.verdict


def promised(attack: Attack, result) -> bool:
    if result.verdict != attack.verdict:
        return False
    return attack.verdict != "error" or (result.error["kind"] in attack.kinds and attack.words in
                                         result.error["message"])


def run_one(attack: Attack, tier: str) -> dict:
    """Check ``attack`` at ``tier`` inside a health snapshot; the row of the table."""
    row = {"attack": attack.name, "what": attack.what, "family": attack.family, "tier": tier}
    if tier in attack.unsafe:
        return {**row, "outcome": "not run", "contained": f"not promised (unsafe to run): {attack.unsafe[tier]}",
                "seconds": None}
    health = Health()
    saved, tempfile.tempdir = tempfile.tempdir, health.base
    try:
        with tempfile.TemporaryDirectory(prefix="gradlab-attack-src-", dir="/tmp") as d:
            path = Path(d) / f"{attack.name}{attack.suffix}"
            path.write_text(source(attack, health.tokens(tier)))
            started = time.monotonic()
            result = check(path, limits=attack.limits, tier=tier)
            seconds = time.monotonic() - started
        problems = health.problems()
    finally:
        tempfile.tempdir = saved
        health.cleanup()
    ok = promised(attack, result) and not problems
    why = attack.lost.get(tier) or attack.gap.get(tier)
    contained = "yes" if ok else ("not promised: " + why if why and tier in attack.lost else
                                  ("no (known gap)" if why else "NO")) + (f" [{'; '.join(problems)}]" if problems else "")
    return {**row, "outcome": outcome(result), "contained": contained, "seconds": seconds}


def gradlab(args: list[str], **env: str) -> str:
    """``gradlab ARGS`` as a shell shows it: the command, what it printed, and its exit status."""
    code = "import sys; from gradlab.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run([sys.executable, "-c", code, *args], check=False, capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **env}, timeout=300)
    prefix = " ".join(f"{k}={v}" for k, v in env.items())
    shown = (done.stdout + done.stderr).rstrip("\n")
    return f"$ {prefix + ' ' if prefix else ''}gradlab {' '.join(args)}\n{shown}\n(exit {done.returncode})"


def doctor_block() -> str:
    """``gradlab doctor`` here, and a forced degradation refused by ``--isolation strict``."""
    runs = [gradlab(["doctor"]),
            gradlab(["check", "--isolation", "strict", "examples/gradlab_rnn.py"], GRADLAB_FORCE_TIER="C")]
    return "```text\n" + "\n\n".join(runs) + "\n```\n\n"


def markdown(rows: list[dict], tiers: list[str], doctor: str = "") -> str:
    """The table, with a line on where and at which tiers it was measured (after ``doctor``'s output)."""
    probe = isolation.probe()
    lines = [doctor + (f"Measured on {platform.system()} {platform.machine()}, Python {platform.python_version()}, best tier "
             f"here {probe.best}; tiers run: {', '.join(tiers)}. Produced by `benchmarks/attacks.py`; do not edit."),
             "", HEADER]
    for r in rows:
        secs = "-" if r["seconds"] is None else f"{r['seconds']:.2f} s"
        lines.append(f"| {r['what']} (`{r['attack']}`) | {r['family']} | {r['tier']} | {r['outcome']} | "
                     f"{r['contained']} | {secs} |")
    contained = sum(r["contained"] == "yes" for r in rows)
    lines += ["", f"{contained} of {len(rows)} runs contained as promised."]
    return "\n".join(lines) + "\n"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiers", default="", help="comma-separated tiers (default: the best tier here)")
    p.add_argument("--only", default="", help="comma-separated attack names (default: all)")
    p.add_argument("--out", default=str(OUT), help="where to write the Markdown table ('-': print only)")
    p.add_argument("--readme", action="store_true", help="also put the table into README.md, between its markers")
    args = p.parse_args(argv)
    args.tiers = [t for t in args.tiers.split(",") if t] or [isolation.probe().best]
    bad = [t for t in args.tiers if t not in isolation.TIERS]
    if bad:
        p.error(f"--tiers: expected letters among {', '.join(isolation.TIERS)}; got {', '.join(bad)}")
    args.only = [a for a in args.only.split(",") if a]
    unknown = [a for a in args.only if a not in BY_NAME]
    if unknown:
        p.error(f"--only: unknown attacks {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    attacks = [BY_NAME[a] for a in args.only] if args.only else ATTACKS
    isolation.probe()  # warm-up, untimed: the probes (about a second) and one honest run per tier
    for tier in args.tiers:
        run_one(BY_NAME["honest_py"], tier)
    rows = []
    for attack in attacks:
        for tier in args.tiers:
            rows.append(run_one(attack, tier))
            r = rows[-1]
            secs = "" if r["seconds"] is None else f" {r['seconds']:.2f} s"
            print(f"{attack.name:24s} {tier} {r['outcome']:24s} {r['contained'][:60]}{secs}", flush=True)
    text = markdown(rows, args.tiers, doctor_block())
    if args.out == "-":
        print(text)
    else:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    if args.readme:
        readme = ROOT / "README.md"
        before, rest = readme.read_text().split(START, 1)
        readme.write_text(before + START + text + END + rest.split(END, 1)[1])
        print(f"updated {readme}")
    return 0 if all(r["contained"] == "yes" or r["contained"].startswith("not promised") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
