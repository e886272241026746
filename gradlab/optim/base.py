"""The shape of every optimiser: a pure ``Transform`` (init, update), composed with ``chain``.

Params, grads and updates are plain ``dict[str, np.ndarray]`` with the same keys and shapes, as
everywhere in gradlab. A transform never mutates what it is given: every step returns new arrays and
a new state (small NamedTuples of such dicts and int step counts).

    state = opt.init(params)
    updates, state = opt.update(grads, state, params)   # optax's GradientTransformation.update
    params, state = opt.step(params, grads, state)      # the same, then params + updates

The update is the change to add to the parameters (optax's sign convention): an optimiser's chain
ends in ``scale_by_learning_rate``, which multiplies by -lr.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

Params = dict[str, np.ndarray]


def tree_map(f: Callable, tree: Mapping[str, np.ndarray], *rest: Mapping[str, np.ndarray]) -> Params:
    """{k: f(tree[k], *(r[k] for r in rest))} in the key order of ``tree``."""
    return {k: f(v, *(r[k] for r in rest)) for k, v in tree.items()}


def apply_updates(params: Mapping[str, np.ndarray], updates: Mapping[str, np.ndarray]) -> Params:
    """p + u for each parameter, in the parameter's dtype (new arrays: ``params`` is not touched)."""
    return {k: np.asarray(p + updates[k], dtype=np.asarray(p).dtype) for k, p in params.items()}


class Transform(NamedTuple):
    """A pure gradient transformation: ``init(params) -> state``, ``update(grads, state, params) ->
    (updates, state)``. ``step`` checks the gradients against the parameters and applies the update."""

    init: Callable[[Params], Any]
    update: Callable[[Params, Any, Params], tuple[Params, Any]]

    def step(self, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray], state) -> tuple[Params, Any]:
        """One optimiser step: (params + update(grads, state, params), new state). Pure."""
        check_params(params, "params")
        check_grads(params, grads)
        grads = {k: np.asarray(grads[k], dtype=np.asarray(p).dtype) for k, p in params.items()}  # in p's dtype
        updates, state = self.update(grads, state, dict(params))
        return apply_updates(params, updates), state


def chain(*transforms: Transform) -> Transform:
    """Apply ``transforms`` in order, each to the previous one's updates (optax.chain).

    The state is the tuple of the inner states, e.g. ``chain(clip(5.0), adagrad(0.1))`` has state
    (EmptyState(), (RssState(...), EmptyState())).
    """
    for i, t in enumerate(transforms):
        if not isinstance(t, Transform):
            raise TypeError(f"chain: argument {i} must be a Transform (init, update), got {type(t).__name__}")

    def init(params):
        return tuple(t.init(params) for t in transforms)

    def update(grads, state, params=None):
        new_state = []
        for t, s in zip(transforms, state):
            grads, s = t.update(grads, s, params)
            new_state.append(s)
        return grads, tuple(new_state)

    return Transform(init, update)


# --- argument checks: errors name the argument, what was expected and what came --------------------------

def check_params(params, name: str = "params") -> None:
    if not isinstance(params, Mapping):
        raise TypeError(f"{name} must be a dict of arrays, got {type(params).__name__}")
    for k, v in params.items():
        dtype = np.asarray(v).dtype
        if dtype.kind != "f":
            raise ValueError(f"{name}[{k!r}] has dtype {dtype}; optimisers need floating-point arrays")


def check_grads(params, grads) -> None:
    """grads has exactly the keys of params, each with its parameter's shape."""
    if not isinstance(grads, Mapping):
        raise TypeError(f"grads must be a dict of arrays, got {type(grads).__name__}")
    missing, extra = [k for k in params if k not in grads], [k for k in grads if k not in params]
    if missing or extra:
        raise ValueError(f"grads must have the keys of params: missing {missing}, unexpected {extra}")
    for k, p in params.items():
        g = np.asarray(grads[k])
        if g.shape != np.shape(p):
            raise ValueError(f"grads[{k!r}] has shape {g.shape}, expected {np.shape(p)} (the shape of params[{k!r}])")
        if g.dtype.kind not in "fiu":
            raise ValueError(f"grads[{k!r}] has dtype {g.dtype}; expected a real numeric array")


def _number(owner: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{owner}: {name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be finite, got {value!r}")
    return value


def positive(owner: str, name: str, value) -> float:
    """value > 0 (a learning rate, a clipping threshold)."""
    v = _number(owner, name, value)
    if v <= 0:
        raise ValueError(f"{owner}: {name} must be > 0, got {value!r}")
    return v


def nonnegative(owner: str, name: str, value) -> float:
    """value >= 0 (eps, an initial accumulator, a weight decay)."""
    v = _number(owner, name, value)
    if v < 0:
        raise ValueError(f"{owner}: {name} must be >= 0, got {value!r}")
    return v


def decay_rate(owner: str, name: str, value, *, upper_closed: bool = False) -> float:
    """0 <= value < 1 (a decay or momentum), or <= 1 when ``upper_closed`` (dampening)."""
    v = _number(owner, name, value)
    if not (0 <= v < 1 or (upper_closed and v == 1)):
        raise ValueError(f"{owner}: {name} must be in [0, 1{']' if upper_closed else ')'}, got {value!r}")
    return v


def flag(owner: str, name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be True or False, got {value!r}")
    return bool(value)
