"""Where a student's gradient is wrong, and why: the evidence gathered around one pair of functions.

For one unit (``lossFun``, ``loss_and_grads``, or a cs231n forward/backward pair) the plan asks the
child, in ONE run, for:

- the main problem (small, all-different sizes; order-one values);
- every prefix of its sequence, T' = 1 .. T-1: the first T' at which a gradient goes wrong, and the
  error at each length (per-time-step evidence: what the step t = T' adds);
- a grid of smaller problems (T, B, D, H, V each shrunk towards 1): the smallest failing sizes;
- the student's OWN loss at perturbed arguments: central differences of the student's forward, so
  "your backward disagrees with your own forward" and "your forward is a different model" are told
  apart. Every entry is probed up to FD_FULL entries; beyond, a sample and random directions.

Comparisons use compare.compare (relative error with a floor: never NaN when both sides are zero)
and tolerances.py: vs gradlab's reference, "rounding" (a float64 computation in another order is
all a correct submission differs by); vs the student's own forward, "central".

Recognised variants: gradients clipped elementwise to [-c, c] (min-char-rnn clips to [-5, 5] inside
lossFun), and truncated BPTT with window k (each L_t sends its gradient back k steps) or in chunks
of k steps (the state carried between chunks as a constant), computed by ``truncated_bptt``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product

import numpy as np

from gradlab.compare import GradReport, compare
from gradlab.models.losses import softmax_cross_entropy
from gradlab.models.registry import Model
from gradlab.models.sizes import Sizes
from gradlab.oracles.finite_diff import central_step
from gradlab.student import matcher
from gradlab.student.adapters import Adapter, Out, Problem
from gradlab.student.plan import Plan
from gradlab.student.result import ForwardCheck, ParamResult
from gradlab.tolerances import Tolerance, tolerance

FD_FULL = 150  # probe every entry of an argument up to this size
FD_SAMPLE = 24  # otherwise this many entries (preferring those with a nonzero gradient) ...
FD_DIRECTIONS = 2  # ... and this many random +-1 directions, two losses each
GRID = {"T": (1, 2, 3), "B": (1, 2), "D": (1, 2), "H": (1, 2, 3), "V": (2, 3)}  # V >= 2: one class has no gradient
MAX_PREFIX_OUT = 4_000_000  # float64 numbers the prefixes may return in all (32 MB)


def reference_tolerance(dtype) -> Tolerance:
    """vs gradlab: a float64 submission differs by rounding only; float32 by its own rounding."""
    return tolerance(dtype, "rounding") if np.dtype(dtype) == np.float64 else tolerance(dtype, "jax-reverse")


# --- truncated BPTT references -------------------------------------------------------------------------

def _state_at(model: Model, cache, s: int):
    return (cache.hs[s], cache.cs[s]) if "c0" in model.state_names else cache.hs[s]


def truncated_bptt(model: Model, theta: dict, xs: np.ndarray, targets: np.ndarray, k: int,
                   kind: str = "window") -> dict[str, np.ndarray]:
    """dL/dtheta when the gradient flows back at most k steps.

    kind "window": each L_t sends its gradient to steps t-k+1 .. t (Williams and Peng's BPTT(k));
    kind "chunk": the sequence is cut into chunks of k steps, each back-propagated alone from the
    state reached (as a constant), as min-char-rnn does across calls. k >= T is full BPTT. The
    initial-state gradients (h0, c0) only receive what reaches step 0.
    """
    if kind not in ("window", "chunk") or k < 1:
        raise ValueError(f"truncated_bptt: expected kind 'window' or 'chunk' and k >= 1, got {kind!r}, {k}")
    params = model.params(theta)
    _, cache = model.forward(params, xs, model.state(theta))
    T = xs.shape[0]
    grads = {key: np.zeros_like(v) for key, v in theta.items()}
    spans = ([(max(0, t - k + 1), t + 1) for t in range(T)] if kind == "window" else
             [(s, min(T, s + k)) for s in range(0, T, k)])
    for s, e in spans:
        logits, sub = model.forward(params, xs[s:e], _state_at(model, cache, s))
        _, dlogits = softmax_cross_entropy(logits, targets[s:e])
        if kind == "window":
            dlogits[:-1] = 0  # only L_{e-1} flows back through this window
        g = model.backward(params, sub, dlogits)
        for key in params:
            grads[key] += g[key]
        if s == 0:
            for key in model.state_names:
                grads[key] += g[key]
    return grads


# --- the plan for one unit ------------------------------------------------------------------------------

@dataclass
class Probe:
    """One central difference of the student's own loss: L(arg + h e_j) - L(arg - h e_j), or along v."""

    out: str
    arg: str
    index: int | None  # flat index, or None for a direction
    direction: np.ndarray | None
    h: float
    plus: int
    minus: int


@dataclass
class UnitPlan:
    ad: Adapter
    p0: Problem
    base: int = -1
    repeat: int = -1  # the main problem again, right after it: state kept between calls shows here
    prefixes: list[tuple[int, Problem, int]] = field(default_factory=list)
    grid: list[tuple[Sizes, Problem, int]] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)

    def add_base(self, plan: Plan) -> None:
        self.base = plan.add(("base", self.ad.label), self.ad.call(self.p0.sizes), self.p0,
                             self.ad.outs(self.p0.sizes), aux=False)

    def add_aux(self, plan: Plan, rng: np.random.Generator, grid: bool = True) -> None:
        ad, p0 = self.ad, self.p0
        outs = ad.outs(p0.sizes)
        static = ad.call(p0.sizes)
        if matcher.matchable(ad):
            self.repeat = plan.add(("repeat", ad.label), static, p0, outs)
        for o in outs:  # the student's own loss, perturbed: first, they decide "backward vs forward"
            if o.role == "grad" and o.arg is not None:
                self._probe(plan, rng, static, o)
        if ad.has_time and p0.sizes.T > 1:
            per_call = sum(int(np.prod(o.shape)) for o in outs)
            Ts = list(range(1, p0.sizes.T))
            if per_call * len(Ts) > MAX_PREFIX_OUT:  # large problems: a geometric subset of the lengths
                Ts = sorted({max(1, round(T)) for T in np.geomspace(1, p0.sizes.T - 1, 12)})
            for T in Ts:
                p = ad.prefix(p0, T)
                self.prefixes.append((T, p, plan.add(("prefix", ad.label, T), ad.call(p.sizes), p, ad.outs(p.sizes))))
        if grid and ad.shrink:
            base = p0.sizes
            choices = [tuple(v for v in GRID[d] if v <= getattr(base, d)) if d in ad.shrink else (getattr(base, d),)
                       for d in Sizes._fields]
            for k, values in enumerate(product(*choices)):
                sizes = Sizes(*values)
                if sizes == base:
                    continue
                p = ad.problem(sizes, p0.seed + 1 + k)
                self.grid.append((p.sizes, p, plan.add(("grid", ad.label, tuple(p.sizes)), ad.call(p.sizes), p,
                                                       ad.outs(p.sizes))))

    def _probe(self, plan: Plan, rng, static, o: Out) -> None:
        a = self.p0.args[o.arg]
        ref = np.abs(self.p0.ref[o.name]).reshape(-1)
        if a.size <= FD_FULL:
            indices = np.arange(a.size)
        else:
            nonzero = np.flatnonzero(ref > 0)
            pool = nonzero if nonzero.size >= FD_SAMPLE else np.arange(a.size)
            indices = np.sort(rng.choice(pool, FD_SAMPLE, replace=False))
        for j in indices:
            h = float(central_step(a.reshape(-1)[j]))
            self.probes.append(Probe(o.name, o.arg, int(j), None, h, *self._pair(plan, static, o, int(j), h)))
        if a.size > FD_FULL:
            for _ in range(FD_DIRECTIONS):
                v = rng.choice([-1.0, 1.0], size=a.shape)
                h = float(central_step(np.abs(a).max()))
                self.probes.append(Probe(o.name, o.arg, None, v, h, *self._pair(plan, static, o, v, h)))

    def _pair(self, plan, static, o, where, h) -> tuple[int, int]:
        tag = ("fd", self.ad.label, o.name)
        return (plan.add(tag, static, self.p0, [], mode="loss", perturb=(o.arg, where, h)),
                plan.add(tag, static, self.p0, [], mode="loss", perturb=(o.arg, where, -h)))


# --- analysis ---------------------------------------------------------------------------------------------

@dataclass
class UnitAnalysis:
    params: list[ParamResult]
    forward: list[ForwardCheck]
    clip: float | None
    truncated: dict | None
    grid_failures: list[tuple[Sizes, list[str]]]
    notes: list[str]
    match: matcher.Match | None = None  # the catalogued mistakes the wrong gradients reproduce


def detect_clip(base: dict, ref: dict, grads: list[Out], tol: Tolerance) -> float | None:
    """c when the student's gradients are clipped elementwise to [-c, c], c = their largest magnitude.

    Clipping is recognised when the reference exceeds c somewhere and either clip(reference, -c, c)
    matches more gradients than the reference does, or at least two entries sit exactly at +-c (a
    wrong gradient can be clipped too: then the comparison should not blame the clip).
    """
    c = max((float(np.abs(base[o.name]).max()) for o in grads if base[o.name].size), default=0.0)
    big = max((float(np.abs(ref[o.name]).max()) for o in grads if ref[o.name].size), default=0.0)
    if c <= 0 or big <= c * (1 + 1e-6):
        return None
    at_c = sum(int(np.count_nonzero(np.abs(base[o.name]) == c)) for o in grads)
    plain = sum(compare(o.name, base[o.name], ref[o.name], tol, "gradlab").ok for o in grads)
    clipped = sum(compare(o.name, base[o.name], np.clip(ref[o.name], -c, c), tol, "gradlab").ok for o in grads)
    return c if clipped > plain or (at_c >= 2 and clipped >= plain) else None


def _clipped(p: Problem, outs: list[Out], c: float | None) -> dict[str, np.ndarray]:
    return {o.name: np.clip(p.ref[o.name], -c, c) if c is not None and o.role == "grad" else p.ref[o.name]
            for o in outs}


def _cmp(o: Out, ours, theirs, tol, oracle="gradlab") -> GradReport:
    if o.role == "loss":
        ours, theirs = np.reshape(ours, (1,)), np.reshape(theirs, (1,))
    return compare(o.name, ours, theirs, tol, oracle)


def own_forward(up: UnitPlan, answers: list, base: dict, c: float | None, dtype) -> dict[str, tuple]:
    """Per gradient: (ok, max rel err, entries checked, missing) against central differences of the
    student's own loss; boundary entries of a clipped gradient are skipped."""
    tol = tolerance(dtype, "central")
    coords: dict[str, np.ndarray] = {}
    dirs: dict[str, list[float]] = {}
    missing: dict[str, int] = {}
    for pr in up.probes:
        a, b = answers[pr.plus], answers[pr.minus]
        if a is None or b is None:
            missing[pr.out] = missing.get(pr.out, 0) + 1
            continue
        slope = (float(a["loss"]) - float(b["loss"])) / (2 * pr.h)
        g = base[pr.out]
        at_bound = np.zeros(g.shape, bool) if c is None else np.abs(g) >= c * (1 - 1e-12)
        if pr.index is not None:
            fd = coords.setdefault(pr.out, np.full(g.shape, np.nan))
            if not at_bound.reshape(-1)[pr.index]:
                fd.reshape(-1)[pr.index] = slope
        elif not (at_bound & (pr.direction != 0)).any():
            gv = float(np.sum(g * pr.direction))
            scale = tol.floor * float(np.sum(np.abs(g * pr.direction)))
            dirs.setdefault(pr.out, []).append(abs(gv - slope) / max(abs(slope), scale, 1e-300))
    out = {}
    for name in {pr.out for pr in up.probes}:
        reports = []
        if name in coords:
            reports.append(compare(name, base[name], coords[name], tol, "own-forward"))
        rel = max([r.max_rel_err for r in reports if r.n_checked] + dirs.get(name, []), default=None)
        n = sum(r.n_checked for r in reports) + len(dirs.get(name, []))
        if n == 0:
            out[name] = (None, None, 0, missing.get(name, 0))
            continue
        ok = all(r.ok for r in reports) and all(e <= tol.rtol for e in dirs.get(name, []))
        out[name] = (ok, rel, n, missing.get(name, 0))
    return out


def match_truncated(ad: Adapter, p0: Problem, base: dict, grads: list[Out], c, tol) -> dict | None:
    """The smallest k (window, then chunk) whose truncated BPTT the student's gradients equal."""
    if not ad.loss_based or p0.sizes.T < 2:
        return None
    weights = [o for o in grads if o.ours not in ad.model.state_names]
    for k in range(1, p0.sizes.T):
        for kind in ("window", "chunk") if k > 1 else ("window",):
            ref = ad.to_student(truncated_bptt(ad.model, p0.theta, p0.xs, p0.targets, k, kind))
            if c is not None:
                ref = {n: np.clip(v, -c, c) for n, v in ref.items()}
            if all(compare(o.name, base[o.name], ref[o.name], tol, "truncated").ok for o in weights):
                return {"k": k, "kind": kind}
    return None


def analyse(up: UnitPlan, answers: list, dtype) -> UnitAnalysis:
    """Every comparison for one unit whose main call succeeded with finite numbers."""
    ad, p0 = up.ad, up.p0
    tol = reference_tolerance(dtype)
    outs = ad.outs(p0.sizes)
    grads = [o for o in outs if o.role == "grad"]
    base = answers[up.base]
    c = detect_clip(base, p0.ref, grads, tol)
    notes = []
    base_rep = {o.name: _cmp(o, base[o.name], _clipped(p0, outs, c)[o.name], tol) for o in outs}
    by_T: dict[str, dict[int, GradReport]] = {o.name: {} for o in outs}
    for T, p, idx in up.prefixes:
        if answers[idx] is None:
            continue
        ref = _clipped(p, outs, c)
        for o in ad.outs(p.sizes):
            by_T[o.name][T] = _cmp(o, answers[idx][o.name], ref[o.name], tol)
    if ad.has_time:
        for o in outs:
            by_T[o.name][p0.sizes.T] = base_rep[o.name]
    missing_T = [T for T, _, idx in up.prefixes if answers[idx] is None]
    if missing_T:
        notes.append(f"{ad.label}: no answer for the prefixes T = {_ranges(missing_T)} (raised or skipped)")
    grid_fail: list[tuple[Sizes, list[str], dict]] = []
    grid_missing = 0
    for sizes, p, idx in up.grid:
        if answers[idx] is None:
            grid_missing += 1
            continue
        ref = _clipped(p, ad.outs(p.sizes), c)
        reps = {o.name: _cmp(o, answers[idx][o.name], ref[o.name], tol) for o in ad.outs(p.sizes)}
        bad = [n for n, r in reps.items() if not r.ok]
        if bad:
            grid_fail.append((sizes, bad, reps))
    if grid_missing:
        notes.append(f"{ad.label}: {grid_missing} of the {len(up.grid)} smaller problems got no answer "
                     "(raised or skipped); see the errors above")
    grid_fail.sort(key=lambda f: (int(np.prod(f[0])), f[0].T, f[0].H, f[0].B, f[0].D, f[0].V))
    if np.dtype(dtype) == np.float64:
        fd = own_forward(up, answers, base, c, dtype)
    else:  # central differences of a float32 forward drown in its rounding at any useful step
        fd = {}
        notes.append(f"{ad.label} computes in {np.dtype(dtype).name}: the comparison with finite differences of "
                     "your own forward needs float64 and was skipped")

    params, forward = [], []
    for o in outs:
        bad_T = sorted(T for T, r in by_T[o.name].items() if not r.ok)
        first_bad = bad_T[0] if bad_T and ad.has_time else None
        errors_by_T = [(_finite(by_T[o.name][T].max_rel_err) if T in by_T[o.name] else None)
                       for T in range(1, p0.sizes.T + 1)] if ad.has_time else []
        fails_at = next(((s, reps[o.name]) for s, names, reps in grid_fail if o.name in names), None)
        rep, rep_sizes = base_rep[o.name], p0.sizes
        if rep.ok and first_bad is not None:
            rep, rep_sizes = by_T[o.name][first_bad], p0.sizes._replace(T=first_bad)
        elif rep.ok and fails_at is not None:
            rep, rep_sizes = fails_at[1], fails_at[0]
        ok = rep.ok and first_bad is None and fails_at is None
        idx = list(rep.worst_index) if rep.worst_index is not None and o.role != "loss" else None
        if o.role != "grad":
            forward.append(ForwardCheck(o.ours, o.name, ad.value_function, ok, _finite(rep.max_abs_err), _finite(rep.max_rel_err),
                                        idx, rep.ours, rep.theirs, first_bad))
            continue
        own_ok, own_rel, own_n, _ = fd.get(o.name, (None, None, 0, 0))
        pr = ParamResult(
            name=o.ours, student_name=o.name, ok=ok, max_abs_err=_finite(rep.max_abs_err),
            max_rel_err=_finite(rep.max_rel_err), worst_index=idx, first_bad_T=first_bad, vs_own_forward_ok=own_ok,
            function=ad.grad_function, student_value=rep.ours, reference_value=rep.theirs,
            where=ad.where(o, rep.worst_index, rep_sizes) if rep.worst_index else "", errors_by_T=errors_by_T,
            own_forward_max_rel_err=own_rel, own_forward_checked=own_n,
            fails_at=({ad.size_labels[k]: getattr(fails_at[0], k) for k in ad.size_labels}
                      if fails_at is not None and base_rep[o.name].ok else None))
        pr.evidence = _evidence(pr, rep, rep_sizes, ad)
        params.append(pr)
    truncated = None
    if any(not p.ok for p in params) and not base_rep_ok(base_rep, grads):
        truncated = match_truncated(ad, p0, base, grads, c, tol)
    named = None
    if any(not p.ok for p in params) and matcher.matchable(ad):
        named = matcher.match(ad, observations(up, answers), tol, c)
        if named.stateful:
            notes.append(f"{ad.label} returned other gradients when called a second time on the same inputs: it "
                         "keeps state between calls (module-level arrays that are never reset?)")
    return UnitAnalysis(params, forward, c, truncated, [(s, n) for s, n, _ in grid_fail], notes, named)


def observations(up: UnitPlan, answers: list) -> matcher.Observations:
    """The calls the matcher judges: the main problem twice in a row, and the longest prefix."""
    sequence = [(up.p0, answers[up.base])]
    if up.repeat >= 0 and answers[up.repeat] is not None:
        sequence.append((up.p0, answers[up.repeat]))
    independent = [(p, answers[idx]) for _, p, idx in up.prefixes[-1:] if answers[idx] is not None]
    return matcher.Observations(sequence, independent)


def base_rep_ok(base_rep: dict, grads: list[Out]) -> bool:
    return all(base_rep[o.name].ok for o in grads)


def _finite(x):
    return None if x is None or not np.isfinite(x) else float(x)


def _ranges(values: list[int]) -> str:
    return ", ".join(map(str, values)) if len(values) <= 6 else f"{values[0]}..{values[-1]} ({len(values)} lengths)"


def _evidence(pr: ParamResult, rep: GradReport, sizes: Sizes, ad: Adapter) -> str:
    own = {True: "agrees with finite differences of your own forward",
           False: "disagrees with finite differences of your own forward",
           None: "not checked against your own forward"}[pr.vs_own_forward_ok]
    if pr.ok:
        return f"matches gradlab (max rel err {rep.max_rel_err:.1e}); {own}"
    if rep.problem:
        return rep.problem
    at = f"{pr.student_name}[{', '.join(map(str, rep.worst_index))}]"
    text = (f"{at} = {rep.ours:.6g}, gradlab {rep.theirs:.6g} (rel err {rep.max_rel_err:.1e})"
            + (f", {pr.where}" if pr.where else ""))
    if pr.first_bad_T is not None:
        text += f"; first wrong at T={pr.first_bad_T}"
    if pr.fails_at:
        text += f"; right on the main problem but wrong at {_sizes_text(pr.fails_at)}"
    if pr.vs_own_forward_ok is not None:
        text += f"; {own}"
    return text


def _sizes_text(d: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in d.items())
