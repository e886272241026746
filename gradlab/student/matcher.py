"""Name the mistake: which catalogued mutations (gradlab/mistakes.py) reproduce the student's numbers.

Honest by construction: a mistake is named only when, on every observed call,

    student == mutation     for every gradient the mutation gives (within the reference tolerance), and
    mutation != reference   for every gradient on which the student is wrong,

and the student is wrong somewhere. Single mistakes are tried first; pairs (two mistakes in different
stages of the backward, ``mistakes.composable``) only when no single one matches. Otherwise the
answer is "unrecognised error" with the evidence (which gradients are wrong, by how much, and the
closest catalogue entry).

The observations of one unit (``lossFun``, ``loss_and_grads`` or cs231n's ``*_forward/*_backward``):

    sequence     the main problem, then the same problem again: the first two calls in the process,
                 where a mistake that lives across calls (gradients never reset, dh_next kept) shows
    independent  more problems (a prefix of the sequence) for the mistakes that keep no state

Everything is compared in the student's layout (adapters.py): cs231n's transposed, gate-permuted
weights, min-char-rnn's column vectors, clipped to [-c, c] where the student clips.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from gradlab import mistakes as catalogue
from gradlab.compare import compare
from gradlab.student.adapters import LSTM_CS231N_BLOCKS, Adapter, Out, Problem
from gradlab.tolerances import Tolerance

Call = tuple[Problem, dict[str, np.ndarray]]  # a problem and the student's answers to it (student layout)


@dataclass
class Observations:
    """What the student returned: ``sequence`` calls made one after another from a fresh import, and
    ``independent`` calls whose place in the process does not matter."""

    sequence: list[Call]
    independent: list[Call] = field(default_factory=list)


@dataclass
class Match:
    """The outcome for one unit: the named mistakes (each a tuple: one mistake, or a pair together),
    or the evidence that none fits."""

    named: list[tuple[catalogue.Mistake, ...]]
    wrong: list[str]  # the student's names of the gradients that differ from gradlab's
    evidence: list[dict] = field(default_factory=list)  # per wrong gradient, when nothing was named
    closest: dict | None = None  # the single mistake that explains the most wrong gradients
    stateful: bool = False  # a second call on the same inputs returned other numbers


def matchable(ad: Adapter) -> bool:
    """The units whose gradients the catalogue predicts: the loss-based ones and cs231n's whole sequence
    (a single cs231n step gets a random upstream gradient that no loss produces)."""
    return ad.unit in ("loss", "seq")


def applicable(ad: Adapter) -> list[catalogue.Mistake]:
    """The catalogue entries a submission in this style can make: cs231n's backward receives dL/dh_t, so
    no mistake in what reaches the logits (the "dlogits" stage) can show in it."""
    return [m for m in catalogue.for_model(ad.model.name) if not (ad.style == "cs231n" and "dlogits" in m.parts)]


def student_layout(ad: Adapter, grads: dict[str, np.ndarray], H: int) -> dict[str, np.ndarray]:
    """gradlab's gradients (theta's names) in the adapter's names and layout, as far as it returns them."""
    if ad.style != "cs231n":
        return ad.to_student(grads)
    order = LSTM_CS231N_BLOCKS if ad.model.name == "lstm" else (0,)
    blocks = lambda a: np.concatenate([a[k * H:(k + 1) * H] for k in order], axis=0)
    names = dict(zip(("dWx", "dWh", "db"), (ad.weights[k] for k in ("Wx", "Wh", "b"))))
    out = {s: blocks(grads[ours]).T if ours in grads else None for s, ours in names.items()}
    out["dh0"] = grads.get("h0")
    return {k: v for k, v in out.items() if v is not None}


def predict(ms: tuple[catalogue.Mistake, ...], ad: Adapter, calls: list[Call], c: float | None) -> list[dict]:
    """What a submission with the mistakes ``ms`` returns on ``calls``, made in that order."""
    native = catalogue.run_calls(ms, ad.model, [(p.theta, p.xs, p.targets) for p, _ in calls])
    out = []
    for (p, _), g in zip(calls, native):
        s = student_layout(ad, g, p.sizes.H)
        out.append({k: np.clip(v, -c, c) for k, v in s.items()} if c is not None else s)
    return out


def _close(o: Out, a: np.ndarray, b: np.ndarray, tol: Tolerance) -> bool:
    return compare(o.name, np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), tol, "mistake").ok


class _Judge:
    """Compares predictions with the student's answers on every observation."""

    def __init__(self, ad: Adapter, obs: Observations, tol: Tolerance, c: float | None):
        self.ad, self.obs, self.tol, self.c = ad, obs, tol, c
        self.c_wrong = c if c is not None else seen_clip(ad, obs)  # a wrong gradient may be clipped too
        self.ref = self._predictions(())
        self.wrong = self._disagreements(self.ref)  # {(which, k, out name)}: the student is wrong there

    def calls(self, stateful: bool) -> list[tuple[str, list[Call]]]:
        groups = [("seq", self.obs.sequence)]
        if not stateful:
            groups += [(f"ind{k}", [call]) for k, call in enumerate(self.obs.independent)]
        return groups

    def outs(self, p: Problem) -> list[Out]:
        return [o for o in self.ad.outs(p.sizes) if o.role == "grad"]

    def _predictions(self, ms) -> dict[tuple[str, int], dict]:
        stateful = any(m.across_calls for m in ms)
        found = {}
        for which, calls in self.calls(stateful):
            for k, pred in enumerate(predict(ms, self.ad, calls, self.c_wrong if ms else self.c)):
                found[(which, k)] = pred
        return found

    def _disagreements(self, preds) -> set[tuple[str, int, str]]:
        bad = set()
        for (which, k), pred in preds.items():
            p, answers = self._call(which, k)
            for o in self.outs(p):
                if o.name in pred and not _close(o, answers[o.name], pred[o.name], self.tol):
                    bad.add((which, k, o.name))
        return bad

    def _call(self, which: str, k: int) -> Call:
        return self.obs.sequence[k] if which == "seq" else self.obs.independent[int(which[3:])]

    def explains(self, ms) -> tuple[bool, set[str]]:
        """(whether ``ms`` reproduces every observed gradient, the wrong gradients it reproduces)."""
        preds = self._predictions(ms)
        misses = self._disagreements(preds)
        covered = {key for key in self.wrong if key[:2] in preds and key[2] in preds[key[:2]]}
        explained = {key for key in covered - misses
                     if not _close(self._out(key), preds[key[:2]][key[2]], self.ref[key[:2]][key[2]], self.tol)}
        ok = not misses and bool(covered) and explained == covered
        return ok, {key[2] for key in explained}

    def _out(self, key) -> Out:
        p, _ = self._call(*key[:2])
        return next(o for o in self.outs(p) if o.name == key[2])


def match(ad: Adapter, obs: Observations, tol: Tolerance, c: float | None = None) -> Match:
    """The catalogue entries (or pairs) that reproduce the student's gradients; see the module docstring."""
    if not obs.sequence:
        raise ValueError("obs: expected at least one call in obs.sequence, got none")
    judge = _Judge(ad, obs, tol, c)
    bad = {name for _, _, name in judge.wrong}
    wrong = [o.name for o in judge.outs(obs.sequence[0][0]) if o.name in bad]
    stateful = any(w == "seq" and k > 0 for w, k, _ in judge.wrong) and _differs_from_first(obs, ad, tol)
    if not wrong:
        return Match([], [], stateful=stateful)
    # a mistake that lives across calls shows from the second call on
    singles = [m for m in applicable(ad) if len(obs.sequence) > 1 or not m.across_calls]
    scores = {m.id: judge.explains((m,)) for m in singles}
    named = [(m,) for m in singles if scores[m.id][0]]
    if not named:
        named = [pair for pair in combinations(singles, 2) if catalogue.composable(*pair) and judge.explains(pair)[0]]
    result = Match(named, wrong, stateful=stateful)
    if not named:
        result.evidence = _evidence(judge)
        best = max(singles, key=lambda m: len(scores[m.id][1]), default=None)
        if best is not None and scores[best.id][1]:
            result.closest = {"id": best.id, "title": best.title, "reproduces": sorted(scores[best.id][1]),
                              "but_not": sorted(set(wrong) - scores[best.id][1])}
    return result


def seen_clip(ad: Adapter, obs: Observations) -> float | None:
    """c when the student's first gradients sit at +-c, their largest magnitude, in two entries or more:
    clipping (min-char-rnn's np.clip(g, -5, 5)) that the reference's small gradients never reach."""
    p, answers = obs.sequence[0]
    grads = [np.abs(answers[o.name]) for o in ad.outs(p.sizes) if o.role == "grad" and o.name in answers]
    grads = [g for g in grads if g.size]
    c = max((float(g.max()) for g in grads), default=0.0)
    return c if c > 0 and sum(int(np.count_nonzero(g == c)) for g in grads) >= 2 else None


def _differs_from_first(obs: Observations, ad: Adapter, tol: Tolerance) -> bool:
    """A second call on the same problem returned other gradients than the first."""
    (p0, first), rest = obs.sequence[0], obs.sequence[1:]
    same = [a for p, a in rest if p is p0]
    return any(not _close(o, a[o.name], first[o.name], tol) for a in same for o in ad.outs(p0.sizes)
               if o.role == "grad" and o.name in a and o.name in first)


def _evidence(judge: _Judge) -> list[dict]:
    """Per wrong gradient, on the first call where it is wrong: how far from gradlab's, and where."""
    seen, out = set(), []
    for which, k, name in sorted(judge.wrong, key=lambda key: (key[0] != "seq", key[1], key[0])):
        if name in seen:
            continue
        seen.add(name)
        p, answers = judge._call(which, k)
        r = compare(name, np.asarray(answers[name], np.float64), judge.ref[(which, k)][name], judge.tol, "gradlab")
        out.append({"param": name, "call": "the main problem" if which == "seq" and k == 0 else
                    "the main problem, called again" if which == "seq" else f"the first {p.sizes.T} steps",
                    "max_rel_err": float(r.max_rel_err), "worst_index": list(r.worst_index or []),
                    "student_value": r.ours, "reference_value": r.theirs})
    return out


def to_dicts(m: Match) -> list[dict]:
    """The result's "mistakes" entries for a match: one per named mistake (a pair gives two, each naming
    the other in "together_with"), or one "unrecognised" entry with the evidence."""
    out = []
    for group in m.named:
        for mistake in group:
            d = {"id": mistake.id, "title": mistake.title, "explanation": mistake.explanation, "params": m.wrong,
                 "hint": mistake.hint, "equation": mistake.equation, "link": mistake.link}
            if len(group) > 1:
                d["together_with"] = [x.id for x in group if x is not mistake]
            out.append(d)
    if not m.named and m.wrong:
        n = len(m.evidence)
        out.append({"id": "unrecognised", "title": "unrecognised error",
                    "explanation": (f"{n} gradient{'s' if n != 1 else ''} ({', '.join(m.wrong)}) "
                                    f"match{'es' if n == 1 else ''} none of the "
                                    "catalogued mistakes (`gradlab mistakes`), alone or in pairs"),
                    "params": m.wrong, "evidence": m.evidence, "closest": m.closest})
    return out
