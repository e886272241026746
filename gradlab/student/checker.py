"""``check(path)``: read a submission, tell its style, run it in the sandbox, and diagnose what came back.

    source (.py, or .ipynb turned into a module)  ->  ast: style and model  ->  [minchar: probe run for
    the module's array shapes]  ->  one plan (main problems, prefixes, smaller problems, the student's
    own loss at perturbed arguments)  ->  ONE sandboxed child run  ->  comparisons  ->  CheckResult

gradlab's process never imports the submission: ``ast`` and ``nbformat`` read it here, and only
the shim in the child executes it. References never leave this process.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import numpy as np

from gradlab.models.sizes import Sizes
from gradlab.student import diagnose, frames, matcher, notebook, sandbox, styles
from gradlab.student import isolation as isolation_tiers
from gradlab.student.adapters import Cs231n, Gradlab, Minchar
from gradlab.student.execution import Stop, call_error, error_result, raise_failure, run_plan, sandbox_summary
from gradlab.student.plan import Plan
from gradlab.student.result import CheckResult
from gradlab.student.sandbox import DEFAULT_LIMITS, Limits, SandboxRun

DEFAULT_SIZES = Sizes(T=6, B=2, D=3, H=5, V=7)  # small and all different: a transposition cannot hide
MINCHAR_T = 25  # min-char-rnn's seq_length, used when the module does not set an int seq_length
MINCHAR_MAX_T = 50
MINCHAR_PROBE = (*styles.MINCHAR_ARRAYS, "lossFun", "seq_length")
SAME_AS_K1 = "rnn-recurrent-term-dropped"  # truncated BPTT with k = 1 is this catalogued mistake
CONVENTIONS = {
    "minchar": "min-char-rnn's contract: column vectors (bh (H, 1), hprev (H, 1)), one sequence (B = 1) of "
               "token indices, one-hot inputs (D = V), the loss summed over time",
    "cs231n-rnn": "cs231n's layout: row vectors, Wx (D, H) = gradlab's W_xh transposed, batch-major x (N, T, D); "
                  "rnn_backward is checked as a vector-Jacobian product with dh = dL/dh of gradlab's loss "
                  "through a fixed random output layer",
    "cs231n-lstm": "cs231n's LSTM stacks its gates i, f, o, g (gradlab: i, f, g, o) in Wx (D, 4H), Wh (H, 4H), "
                   "b (4H,); lstm_forward starts from c0 = 0",
    "gradlab": "gradlab's contract: names and shapes of DESIGN.md, time-major xs (T, B, D), the loss summed",
}


def check(path: str | Path, style: str | None = None, model: str | None = None, *, limits: Limits = DEFAULT_LIMITS,
          sizes: Sizes | None = None, seed: int = 0, isolation: str | None = None,
          tier: str | None = None) -> CheckResult:
    """Check the submission at ``path``; see the module docstring. ValueError for bad arguments.

    isolation: "default" or "strict" (refuse below tier B: isolation.IsolationError, a ValueError);
    tier: force a lower isolation tier (tests). Both default to ``limits``'s.
    """
    limits = dataclasses.replace(limits, isolation=isolation or limits.isolation, tier=tier or limits.tier)
    isolation_tiers.select(limits.tier, limits.isolation)  # refuse before any work
    source = notebook.read(path)  # FileNotFoundError / ValueError: bad arguments
    sizes = Sizes(*(sizes or DEFAULT_SIZES)).validate()
    result = CheckResult(str(path), style, model, "error")
    if source.dropped:
        result.notes.append("left out of the notebook: " + "; ".join(source.dropped[:8])
                            + (f" (+{len(source.dropped) - 8} more)" if len(source.dropped) > 8 else ""))
    try:
        tree = ast.parse(source.text, filename=Path(path).name)
    except SyntaxError as exc:
        line = (exc.text or "").rstrip("\n")
        caret = " " * max(0, (exc.offset or 1) - 1 - (len(line) - len(line.lstrip()))) + "^"
        return error_result(result, "syntax", f"SyntaxError at {source.where(exc.lineno or 0)}: {exc.msg}",
                      f"{line.strip()}\n{caret}" if line else "")
    try:
        style, model, units = styles.detect(styles.definitions(tree), style, model)
    except styles.ContractError as exc:
        return error_result(result, exc.kind, str(exc))
    result.style, result.model = style, model
    runs: list[SandboxRun] = []
    try:
        if style == "minchar":
            adapters, dtype, T = _minchar(source, limits, runs)
            sizes = adapters[0].sizes(T)
        elif style == "cs231n":
            adapters, dtype = [Cs231n(model, u) for u in sorted(units, key=lambda u: u != "seq")], np.float64
        else:
            adapters, dtype = [Gradlab(model)], np.float64
        return _check(result, source, adapters, sizes, dtype, seed, limits, runs)
    except Stop as stop:
        return error_result(result, *stop.args, runs=runs, source=source)


def _minchar(source, limits, runs):
    plan = Plan(mode="probe")
    request = plan.request([], 0, 0, names=list(MINCHAR_PROBE))
    run = sandbox.run(source.text, request, {"meta": frames.Spec("u", max_elements=1 << 20)}, limits)
    runs.append(run)
    raise_failure(run, source)
    found = run.meta.get("probe", {})
    if not isinstance(found, dict):
        raise Stop("bad_result", "the child's report is malformed", "")
    missing = [n for n in MINCHAR_PROBE[:-1] if n not in found]
    if missing:
        raise Stop("missing_function", f"after importing the file, {', '.join(missing)} is not defined", "")
    shapes = {}
    for name in styles.MINCHAR_ARRAYS:
        d = found[name]
        if d.get("type") != "ndarray" or d.get("kind") != "f" or len(d.get("shape", ())) != 2:
            raise Stop("contract", f"{name} must be a 2-D float numpy array (column vectors for bh and by); got "
                                    f"{d.get('type')} {d.get('dtype', '')} {tuple(d.get('shape', ()))}", "")
        if not d.get("writeable", False):
            raise Stop("contract", f"{name} is read-only: the checker writes its values into your arrays", "")
        shapes[name] = tuple(d["shape"])
    H, V = shapes["Wxh"]
    wanted = {"Wxh": (H, V), "Whh": (H, H), "Why": (V, H), "bh": (H, 1), "by": (V, 1)}
    wrong = [f"{n} {shapes[n]} (expected {w})" for n, w in wanted.items() if shapes[n] != w]
    if wrong:
        raise Stop("contract", f"with Wxh of shape (H, V) = {(H, V)}: " + "; ".join(wrong), "")
    if not callable_described(found["lossFun"]):
        raise Stop("missing_function", "lossFun is not a function", "")
    dtype = np.dtype(found["Wxh"]["dtype"])
    seq = found.get("seq_length", {})
    T = seq.get("value") if seq.get("type") == "int" and 1 <= seq.get("value", 0) <= MINCHAR_MAX_T else MINCHAR_T
    return [Minchar(H, V)], (dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)), T


def callable_described(d: dict) -> bool:
    return bool(d.get("callable"))


def _check(result, source, adapters, sizes, dtype, seed, limits, runs) -> CheckResult:
    plan = Plan()
    units = [diagnose.UnitPlan(ad, ad.problem(sizes, seed)) for ad in adapters]
    for up in units:
        up.add_base(plan)
    rng = np.random.default_rng(seed + 7919)
    for up in units:
        up.add_aux(plan, rng)
    functions = sorted({f for ad in adapters for f in ad.functions})
    run, status, answers = run_plan(source, plan, functions, limits, runs)
    errors = {e.get("call"): e for e in run.meta.get("errors", []) if isinstance(e, dict)}
    for up in units:
        if answers[up.base] is None:
            raise Stop(*call_error(up.ad.label, int(status[up.base]), errors.get(up.base), source))
        for o in up.ad.outs(up.p0.sizes):
            bad = ~np.isfinite(answers[up.base][o.name])
            if bad.any():
                where = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.ndim else ()
                value = answers[up.base][o.name][where] if where else answers[up.base][o.name]
                raise Stop("non_finite", f"{up.ad.label} returned a non-finite value: {o.name}"
                                          f"{list(where) if where else ''} = {value}", "")
    result.sizes = {label: getattr(units[0].p0.sizes, k) for k, label in units[0].ad.size_labels.items()}
    result.conventions.append({"id": "contract", "text": CONVENTIONS[
        result.style if result.style != "cs231n" else f"cs231n-{result.model}"]})
    if result.style == "cs231n" and result.model == "lstm":
        result.conventions.append({"id": "layout", "text": CONVENTIONS["cs231n-rnn"]})
    smallest = []
    for up in units:
        a = diagnose.analyse(up, answers, dtype)
        result.params += a.params
        result.forward += a.forward
        result.notes += a.notes
        if a.clip is not None:
            c = f"{a.clip:g}"
            result.conventions.append({"id": "clip", "value": a.clip, "text": (
                f"{up.ad.label} clips its gradients elementwise to [-{c}, {c}] (as min-char-rnn does); they are "
                f"compared with gradlab's gradients clipped the same way")})
        named = matcher.to_dicts(a.match) if a.match is not None else []
        if any(not f.ok for f in a.forward) or a.truncated is not None:  # the wrong numbers are explained
            named = [m for m in named if m["id"] != "unrecognised"]
        result.mistakes += named
        if a.truncated is not None:
            result.mistakes.append(_truncated(a, named))
        for sizes_, names in a.grid_failures[:1]:
            smallest.append((int(np.prod(sizes_)), up.ad, sizes_, names))
        if not a.grid_failures:
            firsts = [p.first_bad_T for p in a.params if p.first_bad_T is not None]
            firsts += [f.first_bad_T for f in a.forward if f.first_bad_T is not None]
            if firsts or any(not p.ok for p in a.params):
                s = up.p0.sizes._replace(T=min(firsts)) if firsts else up.p0.sizes
                names = [p.student_name for p in a.params if not p.ok] + [f.student_name for f in a.forward if not f.ok]
                smallest.append((int(np.prod(s)), up.ad, s, names))
    if smallest:
        _, ad, s, names = min(smallest, key=lambda x: x[0])
        result.smallest_failing_case = {**{label: getattr(s, k) for k, label in ad.size_labels.items()},
                                        "function": ad.label, "params": names}
    _notes_from_meta(result, run, plan, errors)
    wrong = [p for p in result.params if not p.ok] or [f for f in result.forward if not f.ok]
    result.verdict = "wrong" if wrong else "correct"
    result.diagnosis = diagnosis(result)
    result.sandbox = sandbox_summary(runs)
    return result


def _truncated(a: diagnose.UnitAnalysis, named: list[dict]) -> dict:
    """The "truncated-bptt" entry; with k = 1 it is the same numbers as a catalogued mistake (``same_as``)."""
    k, kind = a.truncated["k"], a.truncated["kind"]
    what = ("each loss term L_t sends its gradient back only k steps" if kind == "window" else
            "the sequence is back-propagated in separate chunks of k steps")
    if k == 1:
        what = "the gradient arriving from h_{t+1} (dhnext) is never added: no gradient flows through time"
    entry = {"id": "truncated-bptt", "title": f"matches truncated BPTT with k = {k}",
             "explanation": f"{what}; full BPTT sends every L_t back to step 1",
             "params": [p.student_name for p in a.params if not p.ok], "k": k, "kind": kind}
    if k == 1 and SAME_AS_K1 in {m["id"] for m in named}:
        entry["same_as"] = SAME_AS_K1
    return entry


def diagnosis(result: CheckResult) -> str:
    """One sentence that tells a wrong backward from a forward that computes another function."""
    bad, fwd_bad = result.wrong_params(), [f for f in result.forward if not f.ok]
    names = lambda items: ", ".join(dict.fromkeys(x.student_name for x in items))
    own_true = [p for p in bad if p.vs_own_forward_ok is True]
    own_false = [p for p in bad if p.vs_own_forward_ok is False]
    if not bad and not fwd_bad:
        return "every gradient matches gradlab's, and finite differences of your own forward"
    if not bad:
        return f"the gradients are right, but the forward's {names(fwd_bad)} differ from gradlab's"
    if fwd_bad and own_true and not own_false:
        return (f"your backward is the exact gradient of your own forward, but the forward computes a different "
                f"function ({names(fwd_bad)} differ from gradlab's): fix the forward")
    if own_false and not fwd_bad:
        return (f"your forward matches gradlab's, but {names(own_false)} disagree with finite differences of it: "
                "the mistake is in the backward")
    if own_false and fwd_bad:
        return (f"the forward differs from gradlab's ({names(fwd_bad)}) and {names(own_false)} disagree with "
                "finite differences of your own forward: both need fixing")
    return f"{names(bad)} differ from gradlab's gradients"


def _notes_from_meta(result, run, plan, errors):
    modified = run.meta.get("modified", {})
    if isinstance(modified, dict):
        for name, call in sorted(modified.items()):
            label = plan.tags[call][1] if isinstance(call, int) and 0 <= call < len(plan.tags) else "a function"
            result.notes.append(f"{label} modified its argument {name} in place (the checker passes copies; a "
                                "caller's array would change)")
    aux_errors = [e for c, e in errors.items() if isinstance(c, int) and plan.calls[c].get("aux")]
    if aux_errors:
        e = aux_errors[0]
        tag = plan.tags[e["call"]]
        result.notes.append(f"{tag[1]} failed on {_tag_text(tag)}: {e.get('type')}: {e.get('message')}"
                            + (f" ({run.meta.get('n_errors', 1) - 1} more failures)"
                               if run.meta.get("n_errors", 1) > 1 else ""))
    if run.meta.get("skipped"):
        result.notes.append(f"{run.meta['skipped']} extra calls were skipped: the submission used most of its "
                            "time budget on the first ones")


def _tag_text(tag) -> str:
    kind = tag[0]
    if kind == "prefix":
        return f"the first {tag[2]} steps of the sequence"
    if kind == "grid":
        return "a smaller problem (T, B, D, H, V) = " + str(tag[2])
    if kind == "repeat":
        return "the main problem, called a second time"
    if kind == "fd":
        return f"a perturbed input (finite differences for {tag[2]})"
    return "the main problem"


