"""Argument validation shared by the models: every message names the argument, what was expected
and what came, e.g. ``params['W_hh']: expected shape (H, H) = (6, 6), got (6, 5)``.

Shapes are declared symbolically, ``{"W_x": ("4H", "D"), ...}``; a leading integer is a multiplier.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

import numpy as np

INEXACT_KINDS = "fc"  # float and complex: the models are dtype-generic over both
_SYMBOL = re.compile(r"^(\d*)([A-Za-z]\w*)$")


def require_array(name: str, x, ndim: int | None = None, kinds: str = INEXACT_KINDS, doc: str = "") -> None:
    """Raise TypeError/ValueError unless ``x`` is an ndarray of ``ndim`` dims with dtype kind in ``kinds``."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array{doc and ' ' + doc}, got {type(x).__name__}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array{doc and ' ' + doc}, got shape {x.shape}")
    if x.dtype.kind not in kinds:
        wanted = {"fc": "a float or complex dtype", "iu": "an integer dtype"}.get(kinds, f"dtype kind {kinds}")
        raise TypeError(f"{name}: expected {wanted}, got {x.dtype}")


@functools.cache
def _parse(symbol: str) -> tuple[int, str]:
    match = _SYMBOL.match(symbol)
    if not match:
        raise ValueError(f"bad shape symbol {symbol!r}")
    return int(match.group(1) or 1), match.group(2)


@functools.cache
def _compile(spec: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[tuple[str, tuple[tuple[int, str], ...]], ...]:
    """((key, symbols), ...) -> ((key, ((multiplier, letter), ...)), ...), parsed once per spec."""
    return tuple((key, tuple(_parse(s) for s in symbols)) for key, symbols in spec)


def infer_sizes(params: Mapping[str, np.ndarray], spec: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
    """Check ``params`` against the symbolic ``spec`` and return the sizes, e.g. {"D": 4, "H": 6, "V": 7}.

    It runs on every call of a model, so what it learns is kept: a set of arguments whose types, shapes and
    dtypes (in the order of ``spec``) passed once passes again at the cost of one lookup; anything else is
    checked in full, and messages are built only on failure.
    """
    if not isinstance(params, Mapping):
        raise TypeError(f"params: expected a dict of numpy arrays, got {type(params).__name__}")
    if params.keys() != spec.keys():
        missing = [k for k in spec if k not in params]
        extra = [k for k in params if k not in spec]
        raise ValueError(
            f"params: expected keys {sorted(spec)}, got {sorted(params)}"
            + (f" (missing {missing})" if missing else "")
            + (f" (unexpected {extra})" if extra else "")
        )
    items, arrays = tuple(spec.items()), [params[k] for k in spec]
    try:
        signature = (items, tuple([(type(x), x.shape, x.dtype) for x in arrays]))
        sizes = _PASSED.get(signature)
    except (AttributeError, TypeError):  # not arrays (no shape or dtype, or an unhashable one)
        signature, sizes = None, None
    if sizes is None:
        for (key, symbols), x in zip(items, arrays):
            require_array(f"params[{key!r}]", x, ndim=len(symbols))  # raises, naming the argument
        sizes = _sizes(items, tuple(x.shape for x in arrays))
        if signature is not None:
            if len(_PASSED) >= 256:
                _PASSED.clear()
            _PASSED[signature] = sizes
    return dict(sizes)


_PASSED: dict = {}  # (spec items, ((type, shape, dtype), ...)) -> sizes, for arguments that passed


def _sizes(spec: tuple[tuple[str, tuple[str, ...]], ...], shapes: tuple[tuple[int, ...], ...]) -> dict[str, int]:
    """infer_sizes on the shapes of params, given in the order of ``spec``; raises on a mismatch. The first
    array to name a letter sets it; every shape must then match."""
    compiled = _compile(spec)
    sizes: dict[str, int] = {}
    for (_, parsed), shape in zip(compiled, shapes):
        for (mult, letter), actual in zip(parsed, shape):
            if letter not in sizes and actual % mult == 0 and actual > 0:
                sizes[letter] = actual // mult
    for (key, parsed), shape, (_, symbols) in zip(compiled, shapes, spec):
        expected = tuple(mult * sizes.get(letter, -1) for mult, letter in parsed)
        if shape != expected:
            raise ValueError(f"params[{key!r}]: expected shape ({', '.join(symbols)}) = {expected}, got {shape}")
    return sizes


def check_sequence(xs, targets, D: int | None = None, V: int | None = None) -> tuple[int, int]:
    """Validate xs (T, B, D) and targets (T, B) ints in [0, V); return (T, B)."""
    require_array("xs", xs, ndim=3, doc="(T, B, D)")
    T, B, D_xs = xs.shape
    if T < 1 or B < 1:
        raise ValueError(f"xs: expected T >= 1 and B >= 1 in (T, B, D), got shape {xs.shape}")
    if D is not None and D_xs != D:
        raise ValueError(f"xs: expected last dimension D = {D} (from the params), got shape {xs.shape}")
    if targets is not None:
        require_array("targets", targets, ndim=2, kinds="iu", doc="(T, B)")
        if targets.shape != (T, B):
            raise ValueError(f"targets: expected shape (T, B) = {(T, B)} to match xs, got {targets.shape}")
        if V is not None:
            check_target_range(targets, V)
    return T, B


def check_target_range(targets: np.ndarray, V: int) -> None:
    """Raise ValueError naming the first (t, b) whose class index is outside [0, V)."""
    if targets.size == 0:
        return
    # One reduction for both bounds: seen as unsigned, a negative index reads >= 2**(bits-1), which is >= V
    # unless V exceeds the dtype's positive range; then every value is < V and only the sign can be wrong.
    if targets.dtype.kind != "i" or V <= 1 << (8 * targets.dtype.itemsize - 1):
        if np.maximum.reduce(targets.view(_unsigned(targets.dtype)), axis=None) < V:
            return
    elif targets.min() >= 0:
        return
    bad = (targets < 0) | (targets >= V)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"targets: expected class indices in [0, V) = [0, {V}), got {int(targets[where])} at (t, b) = {where}"
        )


@functools.lru_cache(maxsize=16)
def _unsigned(dtype: np.dtype) -> np.dtype:
    """The unsigned integer dtype of ``dtype``'s size and byte order (itself when unsigned)."""
    return np.dtype(dtype.str.replace("i", "u"))


def check_state(name: str, h0, B: int, H: int) -> None:
    """Validate an initial state such as h0: (B, H)."""
    require_array(name, h0, ndim=2, doc="(B, H)")
    if h0.shape != (B, H):
        raise ValueError(f"{name}: expected shape (B, H) = {(B, H)}, got {h0.shape}")


def check_logits_targets(logits, targets) -> None:
    """Validate logits (T, B, V) and integer targets (T, B) in [0, V)."""
    require_array("logits", logits, ndim=3, doc="(T, B, V)")
    T, B, V = logits.shape
    require_array("targets", targets, ndim=2, kinds="iu", doc="(T, B)")
    if targets.shape != (T, B):
        raise ValueError(f"targets: expected shape (T, B) = {(T, B)} to match logits, got {targets.shape}")
    check_target_range(targets, V)
