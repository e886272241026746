"""What a benchmark run measured (``BenchResult``), the issue's targets judged on it, and its renderings:
Markdown, JSON, rich tables and the plots."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from gradlab.bench.peers import IMPLS, Agreement
from gradlab.bench.sweeps import scaling_exponents


@dataclass
class Row:
    """One (model, size, dtype, implementation): its timing and what the timing means."""

    model: str
    size: str
    dtype: str
    impl: str
    sizes: dict[str, int]
    threads: int
    repeats: int
    median_ms: float
    q1_ms: float
    q3_ms: float
    min_ms: float
    max_ms: float
    gemm_gflop: float  # the GEMM FLOP count of one forward + backward, / 1e9
    gflop_s: float  # gemm_gflop / median
    limit_ms: float  # the GEMM-bound limit: the model's GEMMs alone (gemm_step), timed interleaved; its median
    limit_fraction: float  # paired_median(limit samples / this row's samples): per repeat, then the median
    peak_fraction: float  # gflop_s / the square matmul peak
    ratio: float | None  # paired_median(this row's samples / the fastest peer's samples)
    fastest_peer: str | None  # the peer with the smallest median
    agrees: bool | None
    max_rel_err: float | None
    compile_s: float | None = None
    samples_ms: list[float] | None = None  # one per repeat, in repeat order (None in runs before they were kept)
    floor_ms: float | None = None  # numpy rows: the same calls at D = H = V = 2 (``floor_sizes``), median
    floor_limit_ms: float | None = None  # numpy rows: the GEMM-limit step at D = H = V = 2 (its calls' dispatch)


def paired_median(numerator, denominator) -> float:
    """The median over repeats of numerator[r] / denominator[r]: two steps timed in the same repeat.

    The machine's speed drifts between repeats (up to 1.8x between minutes here) and the two samples of a
    repeat share the drift, so their ratio cancels it; the ratio of the two medians does not (the large
    float64 RNN once read its GEMMs alone as slower than its whole step that way: 100.7% of the limit).
    """
    return float(np.median(np.asarray(numerator, float) / np.asarray(denominator, float)))


@dataclass
class BenchResult:
    """Everything one run measured; ``to_markdown`` and ``to_json`` render it."""

    rows: list[Row]
    machine: dict[str, Any]
    gemm_rates: list[dict[str, Any]] = field(default_factory=list)
    agreement: list[Agreement] = field(default_factory=list)
    memory: list[dict[str, Any]] = field(default_factory=list)
    scaling: list[dict[str, Any]] = field(default_factory=list)
    lengths: list[dict[str, Any]] = field(default_factory=list)  # sweeps.length_sweep at the teaching size
    notes: list[str] = field(default_factory=list)
    label: str = ""
    others: list[BenchResult] = field(default_factory=list)  # the same run under other BLAS settings

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["others"] = [o.to_dict() for o in self.others]
        d["targets"] = [t._asdict() for t in targets(self)]
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, default=float)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BenchResult:
        d = dict(d)
        d.pop("targets", None)
        d["rows"] = [Row(**r) for r in d["rows"]]
        d["agreement"] = [Agreement(**a) for a in d.get("agreement", [])]
        d["others"] = [cls.from_dict(o) for o in d.get("others", [])]
        return cls(**d)

    def to_markdown(self) -> str:
        return render_markdown(self)


class Target(NamedTuple):
    target: str
    model: str
    size: str
    dtype: str
    value: float
    bound: float
    met: bool


TARGETS = (  # (what, which numpy rows, field, bound, "<=" or ">=")
    ("ratio <= 1.0 in float64 at medium and large", lambda r: r.dtype == "float64" and r.size in ("medium", "large"),
     "ratio", 1.0, "<="),
    ("ratio <= 1.25 in float32", lambda r: r.dtype == "float32", "ratio", 1.25, "<="),
    ("ratio <= 1.25 at the teaching size", lambda r: r.size == "teaching", "ratio", 1.25, "<="),
    (">= 70% of the GEMM-bound limit at large", lambda r: r.size == "large", "limit_fraction", 0.70, ">="),
)


def targets(result: BenchResult) -> list[Target]:
    """The issue's targets, judged on the NumPy rows that exist (never asserted: measured)."""
    out = []
    for what, which, key, bound, op in TARGETS:
        for r in result.rows:
            value = getattr(r, key)
            if r.impl == "numpy" and which(r) and value is not None:
                out.append(Target(what, r.model, r.size, r.dtype, value, bound,
                                  value <= bound if op == "<=" else value >= bound))
    return out


def _fmt(x: float | None, spec: str, none: str = "–") -> str:
    return none if x is None else format(x, spec)


def _size_title(size: str, s: Mapping[str, int]) -> str:
    return f"{size} (T={s['T']}, B={s['B']}, D={s['D']}, H={s['H']}, V={s['V']})"


def summary_markdown(result: BenchResult) -> str:
    """One line per (size, dtype, model): NumPy against the fastest peer, and the share of the GEMM limit.

    The table README.md shows (tests/test_readme.py keeps it equal to the committed results).
    """
    lines = ["| size | dtype | model | NumPy ms | fastest peer | peer ms | ratio | NumPy % of GEMM limit |",
             "|---|---|---|---:|---|---:|---:|---:|"]
    by_key = {(r.size, r.dtype, r.model, r.impl): r for r in result.rows}
    for r in result.rows:
        if r.impl != "numpy" or r.fastest_peer is None:
            continue
        peer = by_key[r.size, r.dtype, r.model, r.fastest_peer]
        ratio = f"**{r.ratio:.3f}**" if r.ratio > (1.0 if r.dtype == "float64" and r.size != "teaching" else 1.25) \
            else f"{r.ratio:.3f}"
        lines.append(f"| {r.size} | {r.dtype} | {r.model} | {r.median_ms:.3g} | {peer.impl} | {peer.median_ms:.3g} | "
                     f"{ratio} | {r.limit_fraction:.1%} |")
    met = [t.met for t in targets(result)]
    lines += ["", f"{sum(met)} of {len(met)} target checks met (bold: a ratio above its target)."]
    return "\n".join(lines)


def render_markdown(result: BenchResult) -> str:
    m = result.machine
    blas = m.get("blas")
    blas_text = "; ".join(f"{b['internal_api']} {b['version']} kernel {b['architecture']}, {b['num_threads']} "
                          f"thread(s) ({b['prefix']})" for b in blas) if isinstance(blas, list) else str(blas)
    lines = [
        "# BPTT benchmark: gradlab's NumPy BPTT vs JAX and PyTorch",
        "",
        "One forward + backward (the loss and every gradient), median over interleaved repeats after warm-up.",
        "",
        f"- machine: {m['cpu']}, {m['cores']} cores ({m.get('cpu_flags', '')}), {m['platform']}",
        (f"- versions: Python {m['python']}, NumPy {m['numpy']}, JAX {m.get('jax', 'not installed')}, "
         f"PyTorch {m.get('torch', 'not installed')}"),
        f"- BLAS (threadpoolctl): {blas_text}",
        (f"- threads: {m['threads']} for every library (process pinned to CPU(s) {m.get('cpu_affinity')}); "
         "load average (1, 5, 15 min) "
         f"{_load(m.get('loadavg_start'))} at the start, {_load(m.get('loadavg_end'))} at the end"),
        f"- BLAS environment: {result.label}; " + ", ".join(f"{k}={v}" for k, v in m["env"].items()),
    ]
    if m.get("command"):
        code = m.get("code")
        at = ("gradlab at an unknown commit (not a git checkout)" if not code else
              f"gradlab at commit {code['commit'][:12]}" + (" with uncommitted changes" if code["dirty"] else ""))
        lines.append(f"- code and command: {at}; `{m['command']}`")
    ts = targets(result)
    if ts:
        lines += ["", "## Targets (NumPy rows; measured, never asserted)", "",
                  "| target | model | size | dtype | value | met |", "|---|---|---|---|---:|:---:|"]
        for t in ts:
            value = f"{t.value:.1%}" if t.target.startswith(">=") else f"{t.value:.2f}"
            lines.append(f"| {t.target} | {t.model} | {t.size} | {t.dtype} | {value} | "
                         f"{'yes' if t.met else '**no**'} |")
        met = sum(t.met for t in ts)
        lines += ["", f"{met} of {len(ts)} target checks met."]
    lines += ["", "## Results", "",
              ("ms: median (IQR) over the repeats. GFLOP/s: GEMM FLOPs only (`gradlab.bench.gemms`). "
               "% limit: the model's GEMMs run alone with NumPy (np.dot) at their own shapes (same dtype and "
               "threads, timed as one more step of the interleaved repeats), divided by the implementation's time "
               "in the same repeat; the median of those per-repeat ratios. "
               "ratio: likewise the median over repeats of time / the fastest peer's time in the same repeat "
               "(the fastest peer: the smallest median of JAX jit, torch fused, torch cell loop). "
               "agrees: max relative error against gradlab float64, within the dtype's tolerance.")]
    for size in dict.fromkeys(r.size for r in result.rows):
        rows = [r for r in result.rows if r.size == size]
        lines += ["", f"### {_size_title(size, rows[0].sizes)}", "",
                  "| model | dtype | impl | ms | IQR | GFLOP/s | % limit | ratio | agrees | compile s |",
                  "|---|---|---|---:|---:|---:|---:|---:|---|---:|"]
        for r in rows:
            name = f"**{r.impl}**" if r.impl == "numpy" else r.impl
            agree = "–" if r.agrees is None else f"{'yes' if r.agrees else '**NO**'} ({r.max_rel_err:.0e})"
            lines.append(f"| {r.model} | {r.dtype} | {name} | {r.median_ms:.3g} | {r.q1_ms:.3g}–{r.q3_ms:.3g} | "
                         f"{r.gflop_s:.1f} | {r.limit_fraction:.1%} | {_fmt(r.ratio, '.2f')} | {agree} | "
                         f"{_fmt(r.compile_s, '.2f')} |")
    lines += _floor_section(result)
    if result.gemm_rates:
        lines += ["", "## GEMM rates (NumPy np.dot, each shape alone)", "",
                  "| size | dtype | GEMM | m x k x n | GFLOP/s |", "|---|---|---|---|---:|"]
        lines += [f"| {g['size']} | {g['dtype']} | {g['gemm']} | {g['m']} x {g['k']} x {g['n']} | {g['gflop_s']:.1f} |"
                  for g in result.gemm_rates]
    bad = [a for a in result.agreement if not a.ok]
    lines += ["", "## Agreement (checked once, outside the timed region)", "",
              (f"{len(result.agreement) - len(bad)} of {len(result.agreement)} implementations agree with gradlab's "
               "float64 BPTT (loss and every gradient, gradlab.compare, tolerance of the benchmark dtype).")]
    lines += [f"- {a.impl} {a.model} {a.size} {a.dtype}: " + "; ".join(a.failures) for a in bad]
    if result.memory:
        lines += ["", "## Memory (float64)", "",
                  "| model | size | cache MiB | cache bytes per (t, b) | peak over loss_and_grads MiB |",
                  "|---|---|---:|---:|---:|"]
        lines += [f"| {e['model']} | {e['size']} | {e['cache_bytes'] / 2**20:.2f} | "
                  f"{e['cache_bytes'] / (e['T'] * e['B']):.0f} | {e['peak_bytes'] / 2**20:.2f} |" for e in result.memory]
    if result.scaling:
        exps, flop_exps = scaling_exponents(result.scaling), scaling_exponents(result.scaling, "gemm_gflop")
        lines += ["", "## Scaling (NumPy, float64; plot: scaling.png)", "",
                  ("Exponents: least-squares slopes in log-log over the three largest values, of the time and of "
                   "the GEMM FLOP count (which is what the time should follow while GFLOP/s stays flat)."), "",
                  "| model | sweep | values | median ms | GFLOP/s | time exponent | FLOP exponent |",
                  "|---|---|---|---|---|---:|---:|"]
        for (model, axis), e in exps.items():
            pts = sorted((p["value"], p["median_ms"], p["gemm_gflop"]) for p in result.scaling
                         if (p["model"], p["axis"]) == (model, axis))
            fixed = "B=16, D=V=64, " + ("H=128" if axis == "T" else "T=50")
            lines.append(f"| {model} | {axis} ({fixed}) | {', '.join(str(v) for v, _, _ in pts)} | "
                         f"{', '.join(f'{t:.3g}' for _, t, _ in pts)} | "
                         f"{', '.join(f'{1e3 * f / t:.0f}' for _, t, f in pts)} | {e:.2f} | "
                         f"{flop_exps[model, axis]:.2f} |")
    lines += _length_section(result)
    for other in result.others:
        lines += ["", f"## The same run with {other.label}", "",
                  f"BLAS: {other.machine.get('blas')}", "", "| model | size | dtype | impl | ms | vs unset |",
                  "|---|---|---|---|---:|---:|"]
        base = {(r.model, r.size, r.dtype, r.impl): r.median_ms for r in result.rows}
        lines += [f"| {r.model} | {r.size} | {r.dtype} | {r.impl} | {r.median_ms:.3g} | "
                  f"{_fmt(r.median_ms / base[k] if (k := (r.model, r.size, r.dtype, r.impl)) in base else None, '.2f')} |"
                  for r in other.rows]
    if result.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in result.notes]
    return "\n".join(lines) + "\n"


def _floor_section(result: BenchResult) -> list[str]:
    """The dispatch floor: what NumPy's calls cost with no arithmetic, and whether floor + GEMMs fits the target."""
    bounds: dict[tuple, float] = {}  # the tightest ratio bound of each (model, size, dtype)
    for t in targets(result):
        if t.target.startswith("ratio"):
            bounds[t.model, t.size, t.dtype] = min(t.bound, bounds.get((t.model, t.size, t.dtype), t.bound))
    medians = {(r.model, r.size, r.dtype, r.impl): r.median_ms for r in result.rows}
    rows = [r for r in result.rows if r.impl == "numpy" and r.floor_ms is not None and r.floor_limit_ms is not None]
    if not rows:
        return []
    lines = ["", "## The dispatch floor (NumPy)", "",
             ("floor: gradlab's own calls on the same T and B with D = H = V = 2, where no arithmetic is left "
              "(timed in interleaved repeats of its own, after the implementations'; median): what NumPy's per-call "
              "dispatch costs "
              "this call structure. GEMMs: the GEMM-limit step (% limit above) less the same step at D = H = V = 2, "
              "whose calls' dispatch the floor already holds. Where floor + GEMMs is above the target time (the "
              "bound times the fastest peer's median), no speed-up of the other arithmetic can meet the target; "
              "only fewer calls can."), "",
             "| size | model | dtype | NumPy ms | floor ms | floor share | floor + GEMMs ms | target ms | within reach |",
             "|---|---|---|---:|---:|---:|---:|---:|:---:|"]
    for r in rows:
        key = (r.model, r.size, r.dtype)
        target = bounds[key] * medians[(*key, r.fastest_peer)] if key in bounds and r.fastest_peer else None
        need = r.floor_ms + max(0.0, r.limit_ms - r.floor_limit_ms)
        reach = "–" if target is None else ("yes" if need <= target else "**no**")
        lines.append(f"| {r.size} | {r.model} | {r.dtype} | {r.median_ms:.3g} | {r.floor_ms:.3g} | "
                     f"{r.floor_ms / r.median_ms:.0%} | {need:.3g} | {_fmt(target, '.3g')} | {reach} |")
    return lines


def _length_section(result: BenchResult) -> list[str]:
    """Per call and per step: each implementation's time against T, fitted as a line (sweeps.length_sweep)."""
    if not result.lengths:
        return []
    first = result.lengths[0]
    Ts, s = ", ".join(str(T) for T in first["T"]), first["sizes"]
    lines = ["", f"## Per call and per step (B={s['B']}, D={s['D']}, H={s['H']}, V={s['V']}; T = {Ts})", "",
             ("Each implementation timed at T = " + Ts + " (interleaved; median), and the least-squares line "
              "through the three: per call, its intercept (what a call costs before and after its steps); per "
              "step, its slope (a step, with its share of the batched products and passes). A ratio of whole calls "
              "mixes the two."), "",
             "| model | dtype | impl | ms at each T | per call µs | per step µs |", "|---|---|---|---|---:|---:|"]
    lines += [f"| {e['model']} | {e['dtype']} | {e['impl']} | {', '.join(f'{t:.3g}' for t in e['median_ms'])} | "
              f"{e['per_call_us']:.0f} | {e['per_step_us']:.1f} |" for e in result.lengths]
    return lines


def _load(values) -> str:
    return "?" if not values else ", ".join(f"{v:.2f}" for v in values)


def rich_tables(result: BenchResult) -> list:
    """The results as rich Tables, one per size (what ``gradlab bench`` prints)."""
    from rich.table import Table

    tables = []
    for size in dict.fromkeys(r.size for r in result.rows):
        rows = [r for r in result.rows if r.size == size]
        table = Table(title=f"{_size_title(size, rows[0].sizes)}, {result.machine['threads']} thread(s)",
                      title_justify="left")
        for col in ("model", "dtype", "impl", "ms (median)", "IQR", "GFLOP/s", "% limit", "ratio", "agrees"):
            table.add_column(col, justify="left" if col in ("model", "dtype", "impl", "agrees") else "right")
        for r in rows:
            ratio = _fmt(r.ratio, ".2f")
            if r.impl == "numpy" and r.ratio is not None:
                ratio = f"[{'green' if r.ratio <= 1.0 else 'yellow' if r.ratio <= 1.25 else 'red'}]{ratio}[/]"
            agree = "–" if r.agrees is None else "[green]yes[/]" if r.agrees else "[bold red]NO[/]"
            table.add_row(r.model, r.dtype, f"[bold]{r.impl}[/]" if r.impl == "numpy" else r.impl,
                          f"{r.median_ms:.3g}", f"{r.q1_ms:.3g}–{r.q3_ms:.3g}", f"{r.gflop_s:.1f}",
                          f"{r.limit_fraction:.1%}", ratio, agree)
        tables.append(table)
    return tables


def plot(result: BenchResult, out_dir: str | Path) -> list[Path]:
    """bptt.png (median ms with IQR bars per size, dtype, model, implementation) and scaling.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir, written = Path(out_dir), []
    sizes = list(dict.fromkeys(r.size for r in result.rows))
    dtypes = list(dict.fromkeys(r.dtype for r in result.rows))
    models = list(dict.fromkeys(r.model for r in result.rows))
    impls = [i for i in IMPLS if any(r.impl == i for r in result.rows)]
    fig, axes = plt.subplots(len(dtypes), len(sizes), figsize=(4.2 * len(sizes), 3.4 * len(dtypes)), squeeze=False)
    width = 0.8 / max(1, len(impls))
    for (i, dtype), (j, size) in ((a, b) for a in enumerate(dtypes) for b in enumerate(sizes)):
        ax = axes[i][j]
        for k, impl in enumerate(impls):
            rows = {r.model: r for r in result.rows if (r.size, r.dtype, r.impl) == (size, dtype, impl)}
            xs = [x + (k - (len(impls) - 1) / 2) * width for x, mdl in enumerate(models) if mdl in rows]
            med = [rows[mdl].median_ms for mdl in models if mdl in rows]
            err = [[rows[mdl].median_ms - rows[mdl].q1_ms for mdl in models if mdl in rows],
                   [rows[mdl].q3_ms - rows[mdl].median_ms for mdl in models if mdl in rows]]
            ax.bar(xs, med, width, yerr=err, label=impl, capsize=2)
        ax.set_yscale("log")
        ax.set_xticks(range(len(models)), models)
        ax.set_title(f"{size}, {dtype}", fontsize=10)
        if j == 0:
            ax.set_ylabel("ms per forward + backward")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"BPTT, {result.machine['threads']} thread(s), {result.machine['cpu']} (log scale; bars: IQR)",
                 fontsize=10)
    fig.tight_layout()
    written.append(out_dir / "bptt.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)
    if result.scaling:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        exps = scaling_exponents(result.scaling)
        for ax, axis in zip(axes, ("T", "H")):
            for model in dict.fromkeys(p["model"] for p in result.scaling):
                pts = sorted((p["value"], p["median_ms"]) for p in result.scaling if (p["model"], p["axis"]) == (model, axis))
                ax.plot(*zip(*pts), "o-", label=f"{model} (slope {exps.get((model, axis), float('nan')):.2f})")
            ref = np.array([p[0] for p in pts], float)
            ax.plot(ref, pts[-1][1] * (ref / ref[-1]) ** (1 if axis == "T" else 2), "k:",
                    label=f"~ {axis}" if axis == "T" else "~ H^2")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xticks(ref, [str(int(v)) for v in ref])
            ax.minorticks_off()
            ax.set_xlabel(axis + (" (B=16, D=V=64, H=128)" if axis == "T" else " (T=50, B=16, D=V=64)"))
            ax.set_ylabel("ms per forward + backward (NumPy, float64)")
            ax.legend(fontsize=8)
        fig.tight_layout()
        written.append(out_dir / "scaling.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    return written


def write(result: BenchResult, out_dir: str | Path) -> list[Path]:
    """bptt.md, bptt.json, bptt.png (and scaling.png) into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bptt.md").write_text(result.to_markdown())
    (out_dir / "bptt.json").write_text(result.to_json() + "\n")
    return [out_dir / "bptt.md", out_dir / "bptt.json", *plot(result, out_dir)]
