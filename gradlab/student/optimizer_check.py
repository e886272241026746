"""``check_optimizer(path, name)``: run a student's update rule on fixed gradients and say where it goes wrong.

Two contracts (README "Checking an optimiser"):

    gradlab   step(params, grads, state, lr) -> (params, state)
              params, grads: dicts of float64 arrays by name; state is None at the first call and then what
              the previous call returned; other hyper-parameters are the function's own keyword defaults.
    minchar   update(params, grads, mems, learning_rate)            (min-char-rnn's AdaGrad loop)
              params, grads, mems: lists of arrays in the order Wxh, Whh, Why, bh, by; the function changes
              params and mems IN PLACE (``for param, dparam, mem in zip(params, grads, mems)``). mems start
              at zero (np.zeros_like, as min-char-rnn) and are kept by the checker; a second memory list
              (Adam's m and v) is asked for by a fifth parameter: update(params, grads, ms, vs, learning_rate);
              plain SGD needs none: update(params, grads, learning_rate).

The parent feeds ``steps`` (>= 10) seeded gradients for five parameters of min-char-rnn's shapes (Wxh
(5, 7), Whh (5, 5), Why (7, 5), bh (5, 1), by (7, 1)); each coordinate keeps a scale from 1e-6 to 3, so
where eps sits shows. The child (the shim's "optim" call) returns the parameters after every step; here
they are compared with every convention of registry.variants(name) (one matching: correct, and which
convention) and otherwise with every catalogued mistake of optim.mistakes written in every convention
(a match is named, with the step from which the student leaves the reference). Anything else is an
"unrecognised error", with the first diverging step, parameter, index and values as evidence.
"""

from __future__ import annotations

import ast
import dataclasses
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import NamedTuple

import numpy as np

from gradlab import optim
from gradlab.optim.mistakes import mistakes_for
from gradlab.optim.registry import Variant
from gradlab.student import isolation as isolation_tiers
from gradlab.student import notebook, styles
from gradlab.student.adapters import Out
from gradlab.student.execution import Stop, call_error, error_result, run_plan, sandbox_summary
from gradlab.student.plan import Plan
from gradlab.student.result import CheckResult, ParamResult
from gradlab.student.sandbox import DEFAULT_LIMITS, Limits
from gradlab.tolerances import Tolerance, tolerance

H, V = 5, 7
SHAPES = {"Wxh": (H, V), "Whh": (H, H), "Why": (V, H), "bh": (H, 1), "by": (V, 1)}  # styles.MINCHAR_ARRAYS
STEPS = 12
MIN_STEPS = 10
LEARNING_RATE = 0.1
GRAD_SCALES = (1e-6, 1e-4, 1e-2, 1.0, 3.0)  # per coordinate, kept at every step: 1e-6 and 1e-4 expose eps
OPTIMIZER_STYLES = {"gradlab": "step", "minchar": "update"}
TOL = tolerance("float64", "student-optim")
CONTRACT = {"gradlab": "gradlab's contract: step(params, grads, state, lr) -> (params, state), state None at first",
            "minchar": "min-char-rnn's contract: update(params, grads, mems, learning_rate) in place over lists "
                       "(Wxh, Whh, Why, bh, by), mems starting at zero and kept by the caller"}
# AdaGrad from G_0 = 0.1 with eps 1e-8 or 1e-10 (registry.variants lists only optax's 1e-7 there, as eps
# barely shows next to 0.1; on these gradients its value does, though not its side of the sqrt).
_EXTRA = {"adagrad": [(f"G_0 = 0.1, eps = {eps:g} (inside or outside the sqrt: the same next to G_0 = 0.1)", eps)
                      for eps in (1e-8, 1e-10)]}


@dataclasses.dataclass
class OptimizerCheckResult(CheckResult):
    """CheckResult with "optimizer" in place of "model" (DESIGN.md: fields added, never renamed).

    params: one ParamResult per parameter against the matched (or closest) convention; first_bad_T is the
    first step (1, 2, ...) at which it differs, errors_by_T its max relative error after each step.
    """

    optimizer: str | None = None
    steps: int = STEPS
    learning_rate: float = LEARNING_RATE
    first_bad_step: int | None = None
    unrecognised: dict | None = None  # the evidence when no catalogued mistake matches

    def to_dict(self) -> dict:
        d = super().to_dict()
        d.pop("model", None)
        return d


class Divergence(NamedTuple):
    """Where a trajectory first leaves another: step (1-based), parameter, index, the two values."""

    step: int
    param: str
    index: tuple[int, ...]
    student: float
    reference: float
    rel_err: float


def problem(seed: int = 0, steps: int = STEPS) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(p0, grads): min-char-rnn's parameters U(-1, 1), and gradients {name: (steps, *shape)} whose
    coordinates each keep one scale of GRAD_SCALES, a random sign and a magnitude in [0.2, 1] of it."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < MIN_STEPS:
        raise ValueError(f"steps: expected an int >= {MIN_STEPS}, got {steps!r}")
    rng = np.random.default_rng(seed)
    p0 = {n: rng.uniform(-1, 1, s) for n, s in SHAPES.items()}
    grads = {n: rng.choice(GRAD_SCALES, size=s) * rng.choice((-1.0, 1.0), size=(steps, *s))
             * rng.uniform(0.2, 1.0, (steps, *s)) for n, s in SHAPES.items()}
    return p0, grads


def trajectory(opt: optim.Transform, p0: dict, grads: dict) -> dict[str, np.ndarray]:
    """The parameters after each step of ``opt``, {name: (steps, *shape)}."""
    p, state, out = p0, opt.init(p0), {k: [] for k in p0}
    with np.errstate(all="ignore"):
        for t in range(len(next(iter(grads.values())))):
            p, state = opt.step(p, {k: g[t] for k, g in grads.items()}, state)
            for k in p:
                out[k].append(p[k])
    return {k: np.stack(v) for k, v in out.items()}


def follows(opt: optim.Transform, student: dict, p0: dict, grads: dict, tol: Tolerance = TOL) -> bool:
    """Whether ``student`` {name: (steps, *shape)} is ``opt``'s trajectory, stopping at the first step that is not."""
    p, state = p0, opt.init(p0)
    with np.errstate(all="ignore"):
        for t in range(len(next(iter(grads.values())))):
            p, state = opt.step(p, {k: g[t] for k, g in grads.items()}, state)
            if first_divergence({k: s[t:t + 1] for k, s in student.items()}, {k: v[None] for k, v in p.items()},
                                tol) is not None:
                return False
    return True


def relative_errors(student: dict, ref: dict, tol: Tolerance = TOL) -> dict[str, np.ndarray]:
    """{name: (steps, *shape)} |s - r| / max(|r|, floor * max(1, max_step |r|)); NaN against NaN is 0."""
    out = {}
    for n, r in ref.items():
        s = np.asarray(student[n], dtype=np.float64)
        both_nan = np.isnan(s) & np.isnan(r)
        with np.errstate(all="ignore"):
            scale = np.nanmax(np.where(np.isfinite(r), np.abs(r), np.nan).reshape(len(r), -1), axis=1, initial=0.0)
            floor = tol.floor * np.maximum(1.0, scale).reshape((-1,) + (1,) * (r.ndim - 1))
            rel = np.abs(s - r) / np.maximum(np.abs(r), floor)
        rel = np.where(both_nan | (s == r), 0.0, np.where(np.isnan(rel), np.inf, rel))
        out[n] = rel
    return out


def first_divergence(student: dict, ref: dict, tol: Tolerance = TOL) -> Divergence | None:
    """The first step at which ``student`` leaves ``ref`` (the worst entry of that step), or None."""
    rel = relative_errors(student, ref, tol)
    for t in range(len(next(iter(ref.values())))):
        worst = max(rel, key=lambda n: float(rel[n][t].max()))
        if rel[worst][t].max() > tol.rtol:
            i = np.unravel_index(int(np.argmax(rel[worst][t])), rel[worst][t].shape)
            return Divergence(t + 1, worst, tuple(int(k) for k in i), float(student[worst][t][i]),
                              float(ref[worst][t][i]), float(rel[worst][t][i]))
    return None


def conventions(name: str) -> list[Variant]:
    """registry.variants(name), then the few more this problem can tell apart (_EXTRA)."""
    extra = [Variant(label, partial(optim.adagrad, initial_accumulator_value=0.1, eps=eps, eps_in_sqrt=True))
             for label, eps in _EXTRA.get(name, [])]
    return optim.variants(name) + extra


@dataclasses.dataclass
class Diagnosis:
    """What the trajectory is: a convention (``matched``), or the closest one and the mistakes it matches."""

    matched: list[str]  # labels of every convention it matches (first: the one reported)
    closest: str  # the matched convention, or the one the student leaves last
    divergence: Divergence | None  # from ``closest``
    reference: dict[str, np.ndarray]  # the trajectory of ``closest``
    errors: dict[str, np.ndarray]  # relative errors against it
    mistakes: list[tuple]  # (OptimizerMistake, convention label, Divergence from that convention)


def diagnose(name: str, student: dict, p0: dict, grads: dict, lr: float = LEARNING_RATE,
             tol: Tolerance = TOL) -> Diagnosis:
    """Compare the student's trajectory {name: (steps, *shape)} with every convention, then every mistake."""
    if name not in optim.OPTIMIZERS:
        raise ValueError(f"optimizer: expected one of {', '.join(optim.OPTIMIZERS)}, got {name!r}")
    steps = len(next(iter(grads.values())))
    for k, p in p0.items():
        got = np.shape(student[k]) if isinstance(student, dict) and k in student else None
        if got != (steps, *np.shape(p)):
            raise ValueError(f"student: expected {k!r} of shape {(steps, *np.shape(p))} (steps, *shape), got {got}")
    refs = [(v, trajectory(v.constructor(lr), p0, grads)) for v in conventions(name)]
    found = [(v, r, first_divergence(student, r, tol)) for v, r in refs]
    matched = [v.label for v, _, d in found if d is None]
    if matched:
        v, r, _ = next(f for f in found if f[2] is None)
        return Diagnosis(matched, v.label, None, r, relative_errors(student, r, tol), [])
    v, r, d = max(found, key=lambda f: (f[2].step, -f[2].rel_err))
    named = []
    for mistake in mistakes_for(name):
        hit = next(((cv.label, dv) for cv, _, dv in found for form in mistake.forms(cv.constructor)
                    if follows(form(lr), student, p0, grads, tol)), None)
        if hit is not None:
            named.append((mistake, *hit))
    if named:  # the evidence is then against the convention the mistake was made in
        v, r, d = next(f for f in found if f[0].label == named[0][1])
    return Diagnosis([], v.label, d, r, relative_errors(student, r, tol), named)


# --- the sandboxed run -------------------------------------------------------------------------------------

def optimizer_style(tree: ast.Module, style: str | None) -> tuple[str, int]:
    """(style, number of memory lists) from the file's syntax tree; ContractError when it does not fit."""
    if style is not None and style not in OPTIMIZER_STYLES:
        raise ValueError(f"style: for --optimizer expected one of {', '.join(OPTIMIZER_STYLES)}, got {style!r}")
    defs = styles.definitions(tree)
    if style is None:
        found = [s for s, fn in OPTIMIZER_STYLES.items() if fn in defs.functions]
        if not found:
            raise styles.ContractError("missing_function", (
                "could not find the update rule: expected step(params, grads, state, lr) -> (params, state) "
                "(gradlab) or update(params, grads, mems, learning_rate) updating in place (minchar)"))
        if len(found) > 1:
            raise styles.ContractError("style", "the file defines both step and update: pass --style gradlab or "
                                                "--style minchar")
        style = found[0]
    fn = OPTIMIZER_STYLES[style]
    if fn not in defs.functions:
        raise styles.ContractError("missing_function", f"{style} style: the file does not define {fn}")
    if style == "gradlab":
        return style, 0
    node = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == fn), None)
    n_args = (len(node.args.posonlyargs) + len(node.args.args) - len(node.args.defaults)) if node is not None else 4
    if not 3 <= n_args <= 5:
        raise styles.ContractError("contract", (
            f"minchar style: update takes {n_args} parameters without defaults; expected update(params, grads, mems, "
            "learning_rate), update(params, grads, ms, vs, learning_rate) for two memories, or update(params, grads, "
            "learning_rate) for none (hyper-parameters as keyword defaults after them)"))
    return style, n_args - 3


def run_student(source, style: str, n_mems: int, p0: dict, grads: dict, lr: float, limits: Limits,
                runs: list) -> dict[str, np.ndarray]:
    """The student's trajectory {name: (steps, *shape)} from ONE sandboxed child; Stop when it fails.
    ``source``: notebook.read's Source (its text runs; its line map relabels tracebacks)."""
    steps = len(next(iter(grads.values())))
    fn, plan = OPTIMIZER_STYLES[style], Plan()
    args = {**p0, **{f"g_{n}": g for n, g in grads.items()}, "lr": np.array(float(lr))}
    static = {"kind": "optim", "style": style, "fn": fn, "params": list(p0), "steps": steps, "n_mems": n_mems}
    outs = [Out(n, (steps, *np.shape(p)), "value", n) for n, p in p0.items()]
    plan.add(("main",), static, SimpleNamespace(args=args, iargs={}), outs, aux=False)
    run, status, answers = run_plan(source, plan, [fn], limits, runs)
    if answers[0] is None:
        err = next((e for e in run.meta.get("errors", []) if isinstance(e, dict) and e.get("call") == 0), None)
        kind, message, tb = call_error(fn, int(status[0]), err, source)
        at = run.meta.get("optim_step")
        raise Stop(kind, message + (f" (at step {at})" if isinstance(at, int) else ""), tb)
    return answers[0]


def check_optimizer(path: str | Path, optimizer: str, style: str | None = None, *, limits: Limits = DEFAULT_LIMITS,
                    seed: int = 0, steps: int = STEPS, learning_rate: float = LEARNING_RATE,
                    isolation: str | None = None, tier: str | None = None) -> OptimizerCheckResult:
    """Check the update rule at ``path`` against optimiser ``optimizer``; ValueError for bad arguments."""
    if optimizer not in optim.OPTIMIZERS:
        raise ValueError(f"optimizer: expected one of {', '.join(optim.OPTIMIZERS)}, got {optimizer!r}")
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) or not learning_rate > 0:
        raise ValueError(f"learning_rate: expected a number > 0, got {learning_rate!r}")
    p0, grads = problem(seed, steps)
    limits = dataclasses.replace(limits, isolation=isolation or limits.isolation, tier=tier or limits.tier)
    isolation_tiers.select(limits.tier, limits.isolation)
    source = notebook.read(path)
    result = OptimizerCheckResult(str(path), style, None, "error", optimizer=optimizer, steps=steps,
                                  learning_rate=float(learning_rate))
    try:
        tree = ast.parse(source.text, filename=Path(path).name)
    except SyntaxError as exc:
        return error_result(result, "syntax", f"SyntaxError at {source.where(exc.lineno or 0)}: {exc.msg}",
                      (exc.text or "").strip())
    try:
        style, n_mems = optimizer_style(tree, style)
    except styles.ContractError as exc:
        return error_result(result, exc.kind, str(exc))
    result.style, runs = style, []
    try:
        student = run_student(source, style, n_mems, p0, grads, learning_rate, limits, runs)
    except Stop as stop:
        return error_result(result, *stop.args, runs=runs, source=source)
    result.sandbox = sandbox_summary(runs)
    return fill(result, diagnose(optimizer, student, p0, grads, learning_rate), student)


# --- the result --------------------------------------------------------------------------------------------

def fill(result: OptimizerCheckResult, d: Diagnosis, student: dict) -> OptimizerCheckResult:
    """Verdict, per-parameter evidence, conventions and mistakes of ``result`` from the diagnosis ``d``."""
    result.conventions.append({"id": "contract", "text": CONTRACT[result.style]})
    for name, rel in d.errors.items():
        bad_steps = np.flatnonzero(rel.reshape(len(rel), -1).max(axis=1) > TOL.rtol)
        first = int(bad_steps[0]) + 1 if bad_steps.size else None
        t = (first or 1) - 1
        i = tuple(int(k) for k in np.unravel_index(int(np.argmax(rel[t])), rel[t].shape))
        s, r = float(student[name][t][i]), float(d.reference[name][t][i])
        with np.errstate(invalid="ignore"):
            diff = np.abs(student[name] - d.reference[name])
        both_nan = np.isnan(student[name]) & np.isnan(d.reference[name])
        abs_err = float(np.where(both_nan, 0.0, np.where(np.isnan(diff), np.inf, diff)).max())
        result.params.append(ParamResult(
            name=name, student_name=name, ok=first is None, max_abs_err=abs_err, max_rel_err=float(rel.max()),
            worst_index=list(i) if first else None, first_bad_T=first, vs_own_forward_ok=None,
            function=OPTIMIZER_STYLES[result.style], student_value=s if first else None,
            reference_value=r if first else None, errors_by_T=[float(e) for e in rel.reshape(len(rel), -1).max(axis=1)],
            evidence=f"after step {first}: {name}{list(i)} = {s:.10g}, {d.closest}: {r:.10g}" if first else ""))
    if d.matched:
        result.verdict = "correct"
        result.conventions.append({"id": "variant", "label": d.matched[0], "also_matches": d.matched[1:],
                                   "text": f"implements {result.optimizer} as: {d.matched[0]}"})
        result.diagnosis = f"every step matches {result.optimizer} ({d.matched[0]})"
        return result
    result.verdict, result.first_bad_step = "wrong", d.divergence.step
    for m, label, dv in d.mistakes:
        result.mistakes.append({"id": m.id, "kind": m.kind, "title": m.title, "explanation": m.explanation,
                                "equation": m.equation, "hint": m.hint, "params": list(SHAPES), "convention": label,
                                "from_step": dv.step})
    dv = d.divergence
    evidence = (f"after step {dv.step}, {dv.param}{list(dv.index)} = {dv.student:.10g} where {result.optimizer} "
                f"({d.closest}) gives {dv.reference:.10g}")
    if result.mistakes:
        m = result.mistakes[0]
        result.diagnosis = f"{m['title']}, from step {m['from_step']} on: {evidence}"
    else:
        result.unrecognised = {"from_step": dv.step, "param": dv.param, "index": list(dv.index),
                               "student": dv.student, "reference": dv.reference, "convention": d.closest}
        result.diagnosis = (f"unrecognised error: the trajectory matches no convention of {result.optimizer} and no "
                            f"catalogued mistake; it first leaves the closest convention {evidence}")
    return result
