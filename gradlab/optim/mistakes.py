"""Named optimiser mistakes: each a mutation of a reference optimiser, with one step changed.

Two tables. ``CATALOGUE`` holds each mistake once (``MistakeKind``: id, title, explanation, equation,
hint, the optimisers it applies to). ``OPTIMIZER_MISTAKES`` holds one ``OptimizerMistake`` per
(mistake, optimiser), id ``f"{optimizer}-{kind}"``, whose ``constructor`` has the reference's signature.

A mistake is made by *mutators*: ``mutator(reference_constructor) -> constructor`` (or None where the
mistake cannot be written in that convention). A mutator takes any convention of registry.variants
(eps outside the sqrt, decay 0.99, ...) and returns the same convention with the mistake in it, so a
student who writes PyTorch's RMSprop and rebinds its cache is still named. Several mutators are several
ways of writing the same mistake (``(g + eps)/sqrt(G)`` and ``g/sqrt(G) + eps`` both put eps outside the
denominator). The twin of every optimiser test feeds them to the optax comparison; the student checker
(gradlab/student/optimizer_check.py) names one only when a student's trajectory matches it and matches no
convention. A convention is never a mistake: registry.variants lists those. gradlab.mistakes holds the
backward mutations.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from gradlab.optim.base import Transform, tree_map
from gradlab.optim.registry import OPTIMIZERS, variants
from gradlab.optim.transforms import AdamState

Constructor = Callable[..., Transform]
Mutator = Callable[[Constructor], "Constructor | None"]


@dataclass(frozen=True)
class MistakeKind:
    """One mistake of the catalogue, the same whichever optimiser makes it."""

    id: str
    title: str
    explanation: str  # one sentence
    equation: str  # what the mistaken code computes, next to the right equation
    hint: str  # what to look for in the code
    optimizers: tuple[str, ...]  # the registry names it applies to


@dataclass(frozen=True)
class OptimizerMistake:
    id: str
    optimizer: str  # the registry name it mutates
    title: str
    explanation: str
    equation: str  # the equation it breaks, as the reference writes it
    constructor: Constructor  # same signature as OPTIMIZERS[optimizer]
    hint: str = ""
    kind: str = ""  # the CATALOGUE id
    optimizers: tuple[str, ...] = ()  # every optimiser the kind applies to
    mutators: tuple[Mutator, ...] = ()  # each: reference constructor (any convention) -> mistaken one, or None

    def forms(self, reference: Constructor) -> list[Constructor]:
        """This mistake written in the convention of ``reference``: one constructor per mutator that applies."""
        return [c for m in self.mutators if (c := m(reference)) is not None]


# --- mutators that wrap any constructor ------------------------------------------------------------------

def _wrap(reference: Constructor, change: Callable) -> Constructor:
    """A constructor whose update is ``change(ref, grads, state, params)`` with ``ref`` the reference."""

    def constructor(*args, **kwargs) -> Transform:
        ref = reference(*args, **kwargs)
        return Transform(ref.init, lambda grads, state, params=None: change(ref, grads, state, params))

    return constructor


def _state_not_carried(reference: Constructor) -> Constructor:
    """Every step starts again from init(params): the accumulators never accumulate."""
    return _wrap(reference, lambda ref, g, s, p: (ref.update(g, ref.init(p), p)[0], s))


def _gradient_factor_missing(reference: Constructor) -> Constructor:
    """u / g: -lr / sqrt(G) instead of -lr g / sqrt(G) (the reference's u is g times a factor)."""

    def change(ref, grads, state, params):
        u, state = ref.update(grads, state, params)
        with np.errstate(divide="ignore", invalid="ignore"):
            return tree_map(lambda u, g: u / g, u, grads), state

    return _wrap(reference, change)


def _sign_flipped(reference: Constructor) -> Constructor:
    """-u: the parameters climb the gradient."""

    def change(ref, grads, state, params):
        u, state = ref.update(grads, state, params)
        return tree_map(lambda u: -u, u), state

    return _wrap(reference, change)


# --- mutators that need the convention's hyper-parameters ------------------------------------------------

def _settings(name: str, reference: Constructor, kwargs: dict) -> dict | None:
    """The hyper-parameters ``reference(**kwargs)`` runs with, when ``reference`` is OPTIMIZERS[name] or a
    functools.partial of it (every variant but the composite ones); None otherwise."""
    build = OPTIMIZERS[name]
    fixed = {}
    if isinstance(reference, partial) and reference.func is build and not reference.args:
        fixed = dict(reference.keywords)
    elif reference is not build:
        return None
    defaults = {k: p.default for k, p in inspect.signature(build).parameters.items()}
    return {**defaults, **fixed, **kwargs}


def _eps_moved(name: str, place: Callable) -> Mutator:
    """eps taken out of the denominator and put back by ``place(u0, g, eps, lr)``, where u0 = -lr g/sqrt(G)
    is the reference run with eps = 0. Not written for an accumulator that starts above 0 (optax's AdaGrad
    G_0 = 0.1): next to it eps changes nothing visible, wherever it goes."""

    def mutator(reference: Constructor) -> Constructor | None:
        s = _settings(name, reference, {})
        if s is None or s.get("initial_accumulator_value", 0.0) > 0 or s.get("initial_scale", 0.0) > 0:
            return None

        def constructor(learning_rate, **kwargs) -> Transform:
            eps = _settings(name, reference, kwargs)["eps"]
            ref = reference(learning_rate, **{**kwargs, "eps": 0.0})

            def update(grads, state, params=None):
                u0, state = ref.update(grads, state, params)
                with np.errstate(divide="ignore", invalid="ignore"):
                    return tree_map(lambda u, g: place(u, g, eps, learning_rate), u0, grads), state

            return Transform(ref.init, update)

        return constructor

    return mutator


def _adagrad_accumulates_g(reference: Constructor) -> Constructor | None:
    """G_t = G_{t-1} + g_t (not g_t^2): sqrt of a negative sum is NaN."""
    if _settings("adagrad", reference, {}) is None:
        return None

    def constructor(learning_rate, **kwargs) -> Transform:
        s = _settings("adagrad", reference, kwargs)
        eps, inside = s["eps"], s["eps_in_sqrt"]

        def update(grads, G, params=None):
            G = tree_map(lambda g, G: G + g, grads, G)
            with np.errstate(divide="ignore", invalid="ignore"):
                root = (lambda G: np.sqrt(G + eps)) if inside else (lambda G: np.sqrt(G) + eps)
                return tree_map(lambda g, G: -learning_rate * g / root(G), grads, G), G

        return Transform(lambda params: {k: np.full(np.shape(p), float(s["initial_accumulator_value"]))
                                         for k, p in params.items()}, update)

    return constructor


def _adam_corrections(name: str, corrections: Callable[[int, float, float], tuple[float, float]]) -> Mutator:
    """Adam (or AdamW) whose bias-correction divisors (c1, c2) come from ``corrections(count, b1, b2)``."""

    def mutator(reference: Constructor) -> Constructor | None:
        if _settings(name, reference, {}) is None:
            return None

        def constructor(learning_rate, **kwargs) -> Transform:
            s = _settings(name, reference, kwargs)
            b1, b2, eps, eps_root, wd = s["b1"], s["b2"], s["eps"], s["eps_root"], s.get("weight_decay", 0.0)
            reference(learning_rate, **kwargs)  # the reference validates the hyper-parameters

            def update(grads, state, params=None):
                m = tree_map(lambda g, m: (1 - b1) * g + b1 * m, grads, state.mu)
                v = tree_map(lambda g, v: (1 - b2) * g * g + b2 * v, grads, state.nu)
                c1, c2 = corrections(state.count, b1, b2)
                with np.errstate(divide="ignore", invalid="ignore"):
                    if s["eps_hat"]:
                        u = tree_map(lambda m, v: np.sqrt(c2) / c1 * m / (np.sqrt(v + eps_root) + eps), m, v)
                    else:
                        u = tree_map(lambda m, v: (m / c1) / (np.sqrt(v / c2 + eps_root) + eps), m, v)
                u = tree_map(lambda u, p: -learning_rate * (u + wd * p), u, params) if wd else \
                    tree_map(lambda u: -learning_rate * u, u)
                return u, AdamState(state.count + 1, m, v)

            return Transform(lambda params: AdamState(0, *({k: np.zeros(np.shape(p)) for k, p in params.items()}
                                                           for _ in range(2))), update)

        return constructor

    return mutator


def _no_bias_correction(count, b1, b2):
    return 1.0, 1.0


def _bias_correction_from_t0(count, b1, b2):
    t = count  # 0 at the first step: 1 - b^0 = 0
    return 1 - b1 ** t, 1 - b2 ** t


# --- the catalogue ---------------------------------------------------------------------------------------

_STATEFUL = ("momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
_ADAPTIVE = ("adagrad", "rmsprop")

CATALOGUE: dict[str, MistakeKind] = {k.id: k for k in [
    MistakeKind("state-not-carried", "state not carried between steps",
                "The optimiser's memory (momentum buffer, accumulator, moments) is rebuilt at every step instead "
                "of being kept, so each step behaves like the first.",
                "mem = rho*mem + ... rebinds a local name; the caller's mem never changes",
                "update the state in place (mem *= rho; mem += (1 - rho)*g*g, or mem[...] = ...) or return it "
                "and pass it back at the next step", _STATEFUL),
    MistakeKind("gradient-factor-missing", "gradient factor missing from the update",
                "The step divides the learning rate by the root of the accumulator but never multiplies by the "
                "gradient, so every coordinate moves by about lr in the same direction.",
                "p -= lr / sqrt(G + eps) instead of p -= lr * g / sqrt(G + eps)",
                "the numerator of the step is the gradient: lr * dparam / np.sqrt(mem + eps)", _ADAPTIVE),
    MistakeKind("eps-added-to-gradient", "eps added to the gradient instead of the denominator",
                "eps is meant to keep the division away from zero but is added outside it, so a coordinate with "
                "a tiny accumulated gradient gets a step of about lr instead of a small one.",
                "(g + eps)/sqrt(G) or g/sqrt(G) + eps instead of g/sqrt(G + eps)",
                "put eps in the denominator, with parentheses: dparam / np.sqrt(mem + eps)", _ADAPTIVE),
    MistakeKind("accumulates-g", "AdaGrad accumulates g instead of g^2",
                "The accumulator sums the gradients rather than their squares, so it can shrink or go negative "
                "and its square root is not a scale for the step (NaN once it is negative).",
                "G_t = G_{t-1} + g_t instead of G_t = G_{t-1} + g_t^2",
                "mem += dparam * dparam", ("adagrad",)),
    MistakeKind("sign-flipped", "update sign flipped (momentum sign): the step climbs the gradient",
                "The velocity is built as v = mu*v - lr*g (the form you add to p) but then subtracted, or built as "
                "v = mu*v + g and added, so the parameters climb the gradient.",
                "p_t = p_{t-1} + lr v_t instead of p_t = p_{t-1} - lr v_t",
                "with v = mu*v - lr*g write p += v; with v = mu*v + g write p -= lr*v",
                ("sgd", "momentum", "nesterov")),
    MistakeKind("no-bias-correction", "Adam without bias correction",
                "m and v are used as they are, not divided by 1 - b1^t and 1 - b2^t, so the first steps are "
                "(1 - b1)/sqrt(1 - b2) = 3.2 times too large with the defaults and then shrink as m and v warm up.",
                "m_hat = m_t / (1 - b1^t), v_hat = v_t / (1 - b2^t)",
                "divide m by (1 - b1**t) and v by (1 - b2**t), with t the step number", ("adam", "adamw")),
    MistakeKind("bias-correction-t-from-0", "bias correction with t starting at 0",
                "The step counter is used before it is incremented, so the first step divides by 1 - b1^0 = 0 "
                "(NaN from the first step on).",
                "t = 1, 2, ... in 1 - b1^t; here t = 0, 1, ...",
                "increment t before the bias correction (t += 1 first), as optax's count + 1", ("adam", "adamw")),
]}

_MUTATORS: dict[str, Callable[[str], tuple[Mutator, ...]]] = {
    "state-not-carried": lambda name: (_state_not_carried,),
    "gradient-factor-missing": lambda name: (_gradient_factor_missing,),
    "eps-added-to-gradient": lambda name: (
        _eps_moved(name, lambda u0, g, eps, lr: u0 * ((g + eps) / g)),  # (g + eps) / sqrt(G)
        _eps_moved(name, lambda u0, g, eps, lr: u0 - lr * eps),  # lr * (g / sqrt(G) + eps)
        _eps_moved(name, lambda u0, g, eps, lr: u0 - eps),  # lr * g / sqrt(G) + eps
    ),
    "accumulates-g": lambda name: (_adagrad_accumulates_g,),
    "sign-flipped": lambda name: (_sign_flipped,),
    "no-bias-correction": lambda name: (_adam_corrections(name, _no_bias_correction),),
    "bias-correction-t-from-0": lambda name: (_adam_corrections(name, _bias_correction_from_t0),),
}

# Per-optimiser explanation and equation where they say more than the kind's (from the first catalogue).
_SPECIFIC = {
    "momentum-state-not-carried": ("The buffer v is rebuilt from zero at every step, so v_t = g_t: plain SGD.",
                                   "v_t = mu v_{t-1} + g_t"),
    "adagrad-state-not-carried": ("G is rebuilt from G_0 at every step, so the step size never shrinks.",
                                  "G_t = G_{t-1} + g_t^2"),
    "rmsprop-state-not-carried": (("nu is rebuilt from nu_0 at every step: nu_t = (1 - rho) g_t^2, a sign-like "
                                  "step of lr/sqrt(1 - rho)."), "nu_t = rho nu_{t-1} + (1 - rho) g_t^2"),
    "adam-state-not-carried": (("m and v restart from zero (and t from 1) at every step: u = -lr g/(|g| + eps), a "
                               "sign step."), "m_t = b1 m_{t-1} + (1 - b1) g_t"),
}


def _instance(kind: MistakeKind, name: str) -> OptimizerMistake:
    id = f"{name}-{kind.id}"
    explanation, equation = _SPECIFIC.get(id, (kind.explanation, kind.equation))
    mutators = _MUTATORS[kind.id](name)
    # the mistake in the reference's defaults, or else in the first convention it can be written in
    constructor = next(c for ref in [OPTIMIZERS[name], *(v.constructor for v in variants(name))]
                       if (c := mutators[0](ref)) is not None)
    return OptimizerMistake(id, name, kind.title, explanation, equation, constructor, kind.hint, kind.id,
                            kind.optimizers, mutators)


OPTIMIZER_MISTAKES: dict[str, OptimizerMistake] = {
    m.id: m for kind in CATALOGUE.values() for name in kind.optimizers for m in [_instance(kind, name)]}


def mistakes_for(name: str) -> list[OptimizerMistake]:
    """The catalogued mistakes of optimiser ``name`` (a registry name), in catalogue order."""
    if name not in OPTIMIZERS:
        raise ValueError(f"mistakes_for: name must be one of {', '.join(OPTIMIZERS)}, got {name!r}")
    return [m for m in OPTIMIZER_MISTAKES.values() if m.optimizer == name]
