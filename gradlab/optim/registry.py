"""The optimiser registry, the presets for the conventions users meet, and the variants a checker tries.

    OPTIMIZERS                 name -> constructor (optimizers.py), optax's defaults
    PRESETS[preset][name]      the hyper-parameters another tool uses by default
    make(name, preset, **hyper)   build one, checking every name
    variants(name)             the legitimate conventions for one optimiser, each (label, constructor)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import partial
from itertools import product
from typing import NamedTuple

from gradlab.optim import optimizers
from gradlab.optim.base import Transform, chain
from gradlab.optim.transforms import add_decayed_weights

OPTIMIZERS: dict[str, Callable[..., Transform]] = {
    "sgd": optimizers.sgd,
    "momentum": optimizers.momentum,
    "nesterov": optimizers.nesterov,
    "adagrad": optimizers.adagrad,
    "rmsprop": optimizers.rmsprop,
    "adam": optimizers.adam,
    "adamw": optimizers.adamw,
}

_TORCH_ADAGRAD = {"initial_accumulator_value": 0.0, "eps": 1e-10, "eps_in_sqrt": False}
_TORCH_RMSPROP = {"decay": 0.99, "eps": 1e-8, "eps_in_sqrt": False}
_MINCHAR_ADAGRAD = {"initial_accumulator_value": 0.0, "eps": 1e-8, "eps_in_sqrt": True}
_KERAS_ADAM = {"eps": 1e-7, "eps_hat": True}

# Each tool's defaults, read from its source (REFERENCE.md section 5). optax has no default learning rate.
PRESETS: dict[str, dict[str, dict]] = {
    "optax": {name: {} for name in OPTIMIZERS},
    "pytorch": {  # torch.optim: SGD lr 1e-3 (buf = g at step 1), Adagrad and RMSprop lr 1e-2, Adam(W) lr 1e-3
        "sgd": {"learning_rate": 1e-3},
        "momentum": {"learning_rate": 1e-3, "undamped_first_step": True},
        "nesterov": {"learning_rate": 1e-3, "undamped_first_step": True},
        "adagrad": {"learning_rate": 1e-2, **_TORCH_ADAGRAD},
        "rmsprop": {"learning_rate": 1e-2, **_TORCH_RMSPROP},
        "adam": {"learning_rate": 1e-3},
        "adamw": {"learning_rate": 1e-3, "weight_decay": 1e-2},
    },
    "minchar": {  # Karpathy's min-char-rnn.py: mem = zeros, p -= lr g / sqrt(mem + 1e-8), lr 0.1
        "adagrad": {"learning_rate": 0.1, **_MINCHAR_ADAGRAD},  # (it also clips at 5: chain(clip(5.0), ...))
    },
    "keras": {  # Keras 3: SGD lr 1e-2, the rest lr 1e-3; eps 1e-7 everywhere
        "sgd": {"learning_rate": 1e-2},
        "momentum": {"learning_rate": 1e-2},  # m = mu m - lr g; p += m: optax's trace at a constant lr
        "nesterov": {"learning_rate": 1e-2},
        "adagrad": {"learning_rate": 1e-3},  # G_0 0.1, eps 1e-7 inside: optax's defaults
        "rmsprop": {"learning_rate": 1e-3, "eps": 1e-7},  # rho 0.9, eps inside
        "adam": {"learning_rate": 1e-3, **_KERAS_ADAM},
        "adamw": {"learning_rate": 1e-3, "weight_decay": 4e-3, **_KERAS_ADAM},
    },
}

# Names other tools use for our hyper-parameters: a wrong name gets a pointer to the right one.
_ALIASES = {"lr": "learning_rate", "alpha": "decay", "rho": "decay", "beta_1": "b1", "beta_2": "b2",
            "betas": "b1 and b2", "epsilon": "eps", "initial_accumulator": "initial_accumulator_value",
            "eps_inside": "eps_in_sqrt"}
_HINTS = {("adam", "weight_decay"): "torch Adam(weight_decay) is coupled L2: "
                                    "chain(add_decayed_weights(wd), adam(lr)); decoupled decay is 'adamw'",
          ("sgd", "momentum"): "momentum is the optimiser 'momentum' (or 'nesterov')"}


def hyper_parameters(name: str) -> dict[str, object]:
    """The hyper-parameters of optimiser ``name`` and their defaults (inspect.Parameter.empty if required)."""
    return {k: p.default for k, p in inspect.signature(_optimizer(name)).parameters.items()}


def _optimizer(name: str) -> Callable[..., Transform]:
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimiser {name!r}; known: {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name]


def make(name: str, preset: str | None = None, **hyper) -> Transform:
    """The optimiser ``name`` with a tool's defaults (``preset``: None or 'optax', 'pytorch', 'minchar',
    'keras'), overridden by ``hyper``. ValueError names an unknown optimiser, preset or hyper-parameter.

    >>> opt = make("adagrad", preset="minchar")   # lr 0.1, G_0 = 0, eps 1e-8 inside the sqrt
    >>> state = opt.init(params); params, state = opt.step(params, grads, state)
    """
    constructor = _optimizer(name)
    if preset is None:
        preset = "optax"
    if preset not in PRESETS:
        raise ValueError(f"make: unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    if name not in PRESETS[preset]:
        raise ValueError(f"make: preset {preset!r} defines no {name!r}; it has: {', '.join(PRESETS[preset])}")
    accepted = hyper_parameters(name)
    for key in hyper:
        if key not in accepted:
            hint = _HINTS.get((name, key)) or (f"did you mean {_ALIASES[key]}?" if key in _ALIASES else "")
            raise ValueError(f"make: {name} has no hyper-parameter {key!r}; it takes {', '.join(accepted)}"
                             + (f" ({hint})" if hint else ""))
    merged = {**PRESETS[preset][name], **hyper}
    missing = [k for k, d in accepted.items() if d is inspect.Parameter.empty and k not in merged]
    if missing:
        defaults = {p: PRESETS[p][name]["learning_rate"] for p in PRESETS
                    if "learning_rate" in PRESETS[p].get(name, {})}
        raise ValueError(f"make: {name} needs {', '.join(missing)} (optax has no default learning rate); "
                         f"pass learning_rate=... or a preset with one: {defaults}")
    return constructor(**merged)


# --- variants: the legitimate conventions, for a checker that must say which one a student wrote ---------

class Variant(NamedTuple):
    """One convention: ``constructor(learning_rate, **more) -> Transform`` with the convention fixed."""

    label: str
    constructor: Callable[..., Transform]


def _where(name: str, fixed: dict) -> str:
    """The tools whose preset for ``name`` sets exactly this convention (learning rate aside)."""
    names = []
    for preset, table in PRESETS.items():
        if name in table:
            conv = {**{k: v for k, v in hyper_parameters(name).items() if k != "learning_rate"},
                    **{k: v for k, v in table[name].items() if k != "learning_rate"}}
            if all(conv.get(k) == v for k, v in fixed.items()):
                names.append(preset)
    return f" [{', '.join(names)}]" if names else ""


def _ema_momentum(nesterov: bool, undamped_first_step: bool = False) -> Callable[..., Transform]:
    build = optimizers.nesterov if nesterov else optimizers.momentum

    def constructor(learning_rate, momentum=0.9):
        """v_t = mu v_{t-1} + (1 - mu) g_t: dampening = mu, from v_0 = 0 (or v_1 = g_1, PyTorch's)."""
        return build(learning_rate, momentum=momentum, dampening=momentum, undamped_first_step=undamped_first_step)

    return constructor


def variants(name: str) -> list[Variant]:
    """The conventions a correct implementation of ``name`` may follow, each a Variant(label, constructor).

    The axes: where eps sits (inside/outside the square root), its value (1e-7 Keras/optax AdaGrad,
    1e-8, 1e-10 PyTorch AdaGrad), the decay (0.9 optax/Keras, 0.99 PyTorch), the accumulator's start
    (0, or optax's 0.1), momentum as a sum (no dampening) or an average (dampening = mu, and PyTorch's undamped
    first step), Adam's eps in Algorithm 1 or in the eps-hat form, weight decay coupled or decoupled.
    Labels end with the tools that use the convention by default, e.g. "[optax, keras]". Hyper-parameters
    a student passes explicitly (learning_rate, momentum, b1, b2) stay arguments of the constructor.
    """
    build = _optimizer(name)
    out: list[Variant] = []

    def add(label: str, fixed: dict):
        out.append(Variant(label + _where(name, fixed), partial(build, **fixed)))

    if name == "sgd":
        add("p -= lr g", {})
    elif name in ("momentum", "nesterov"):
        add("v = mu v + g (no dampening)", {"dampening": 0.0})
        out.append(Variant("v = mu v + (1 - mu) g from v_0 = 0 (moving average)",
                           _ema_momentum(name == "nesterov")))
        out.append(Variant("v = mu v + (1 - mu) g with v_1 = g (torch SGD(dampening=momentum))",
                           _ema_momentum(name == "nesterov", undamped_first_step=True)))
    elif name == "adagrad":
        # With G_0 = 0.1 the accumulator hides eps: moving 1e-10 across the sqrt changes p by ~1e-11
        # relative, below rounding. So G_0 = 0.1 comes only as optax's and Keras's (1e-7 inside).
        add("G_0 = 0.1, eps = 1e-07 inside the sqrt", {"initial_accumulator_value": 0.1, "eps": 1e-7,
                                                       "eps_in_sqrt": True})
        for eps, inside in product((1e-7, 1e-8, 1e-10), (True, False)):
            add(f"G_0 = 0, eps = {eps:g} {'inside' if inside else 'outside'} the sqrt",
                {"initial_accumulator_value": 0.0, "eps": eps, "eps_in_sqrt": inside})
    elif name == "rmsprop":
        for centered, rho, eps, inside in product((False, True), (0.9, 0.99), (1e-8, 1e-7, 1e-10), (True, False)):
            add(f"{'centered, ' if centered else ''}decay {rho:g}, eps = {eps:g} "
                f"{'inside' if inside else 'outside'} the sqrt",
                {"centered": centered, "decay": rho, "eps": eps, "eps_in_sqrt": inside})
    elif name in ("adam", "adamw"):
        decays = {"adam": [None], "adamw": [1e-4, 1e-2, 4e-3]}[name]
        for wd, eps, hat in product(decays, (1e-8, 1e-7), (False, True)):
            fixed = {"eps": eps, "eps_hat": hat} | ({} if wd is None else {"weight_decay": wd})
            add(("" if wd is None else f"decoupled weight decay {wd:g}, ")
                + (f"eps-hat form, eps = {eps:g} on sqrt(v_t)" if hat else f"Algorithm 1, eps = {eps:g} on sqrt(v_hat)"),
                fixed)
        if name == "adamw":
            out.append(Variant("coupled L2 1e-2, g <- g + wd p before Adam (torch Adam(weight_decay=1e-2))",
                               _coupled_adam))
    return out


def _coupled_adam(learning_rate, weight_decay=1e-2, **more) -> Transform:
    """torch Adam(weight_decay): g <- g + wd p, then Adam (wd goes through the 1/sqrt(v_hat) scaling)."""
    return chain(add_decayed_weights(weight_decay), optimizers.adam(learning_rate, **more))
