"""Optional oracle: PyTorch's own nn.RNN / nn.LSTM / nn.GRU with OUR weights copied in, float64 autograd.

The JAX oracle re-writes our equations; this one writes none. It loads our parameters into the
modules users already trust and lets autograd differentiate them, so it pins the conventions (gate
order, reset placement, bias layout, loss reduction) as well as the gradients. torch is imported
lazily: the rest of gradlab never needs it, and ``available()`` says whether it is installed
(``pip install -e '.[torch]'``, torch==2.13.0 only).

Mapping (ours -> torch; modules built with float64, batch_first=False, one layer, tanh; the output
layer o_t = h_t W_hy^T + b_y is an nn.Linear(H, V)):

    model  ours          torch                         note
    rnn    W_xh (H, D)   rnn.weight_ih_l0              same (out, in) orientation, no transpose
           W_hh (H, H)   rnn.weight_hh_l0
           b_h  (H,)     rnn.bias_ih_l0                bias_hh_l0 = 0
    lstm   W_x (4H, D)   lstm.weight_ih_l0             rows i, f, g, o in both
           W_h (4H, H)   lstm.weight_hh_l0
           b   (4H,)     lstm.bias_ih_l0               bias_hh_l0 = 0
    gru    W_x (3H, D)   gru.weight_ih_l0              rows r, z, n in both; nn.GRU resets AFTER
           W_h (3H, H)   gru.weight_hh_l0              the matmul: n = tanh(.. + r * (W_hn h + b_hn))
           b_x (3H,)     gru.bias_ih_l0
           b_h (3H,)     gru.bias_hh_l0                b_hn sits inside the reset: not merged
    all    W_hy (V, H)   out.weight;  b_y (V,) out.bias
           h0 (B, H)     h0 (1, B, H);  c0 (B, H) c0 (1, B, H) for the LSTM, passed as (h0, c0)

Inputs are xs (T, B, D) and targets (T, B); the loss is
F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), reduction="sum"), our summed loss
(torch's default "mean" would divide every gradient by T*B).

The two biases (REFERENCE.md pitfall 6). nn.RNN and nn.LSTM add bias_ih + bias_hh where we have one
b_h (or b), so only their sum matters and autograd gives each EXACTLY the same gradient, our db_h.
We copy b_h into bias_ih, zero bias_hh, report bias_ih.grad as db_h, and ``reverse`` checks that
bias_hh.grad equals it (to float64 rounding: torch sums the input side over T*B rows at once and the
hidden side step by step, so the two may differ in the last bits). nn.GRU's b_hn is gated by r, so
its two biases are really different parameters: b_x <- bias_ih.grad, b_h <- bias_hh.grad; their r and
z parts are equal, their n parts are not (REFERENCE.md section 3).

"gru-cho" (reset BEFORE the matmul, Cho et al. 2014) has no nn equivalent: nn.GRU is reset-after
only. Asking for it raises ValueError rather than running a hand-written torch loop, which would be
a third copy of our equations and pin nothing about PyTorch; the JAX and finite-difference oracles
cover it. ``SUPPORTED`` lists the models this oracle runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from gradlab.compare import compare
from gradlab.tolerances import tolerance

INSTALL_HINT = "pip install -e '.[torch]'  (torch==2.13.0)"

# our name -> torch's name, per model; the "out." entries are the nn.Linear output layer
PARAM_MAP: dict[str, dict[str, str]] = {
    "rnn": {"W_xh": "rnn.weight_ih_l0", "W_hh": "rnn.weight_hh_l0", "b_h": "rnn.bias_ih_l0",
            "W_hy": "out.weight", "b_y": "out.bias"},
    "lstm": {"W_x": "rnn.weight_ih_l0", "W_h": "rnn.weight_hh_l0", "b": "rnn.bias_ih_l0",
             "W_hy": "out.weight", "b_y": "out.bias"},
    "gru": {"W_x": "rnn.weight_ih_l0", "W_h": "rnn.weight_hh_l0", "b_x": "rnn.bias_ih_l0",
            "b_h": "rnn.bias_hh_l0", "W_hy": "out.weight", "b_y": "out.bias"},
}
STATE_NAMES = {"rnn": ("h0",), "lstm": ("h0", "c0"), "gru": ("h0",)}
MODULES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
SUPPORTED = tuple(PARAM_MAP)
UNSUPPORTED = {"gru-cho": "nn.GRU resets after the matmul only, r * (W_hn h + b_hn); PyTorch has no "
                          "reset-before (Cho 2014) GRU to pin 'gru-cho' against (use the JAX oracle)"}


class TorchRun(NamedTuple):
    """One forward and backward through the nn modules, in torch's own names (float64 NumPy arrays)."""

    loss: float
    logits: np.ndarray  # (T, B, V)
    grads: dict[str, np.ndarray]  # torch names ("rnn.bias_hh_l0", "out.weight", ...) plus "h0" (, "c0") as (B, H)


def available() -> bool:
    """True when torch can be imported (the optional [torch] extra is installed)."""
    try:
        _torch()
    except ImportError:
        return False
    return True


def _torch():
    """The torch module, imported on first use; ImportError with the install command when missing."""
    try:
        return importlib.import_module("torch")
    except ImportError as err:
        raise ImportError(f"the PyTorch oracle needs the optional torch extra: {INSTALL_HINT}") from err


def check_model(model) -> str:
    """The model's name if this oracle runs it; ValueError naming the supported ones otherwise."""
    name = getattr(model, "name", model)
    if name in UNSUPPORTED:
        raise ValueError(f"model: {name!r} is not supported by the PyTorch oracle: {UNSUPPORTED[name]}")
    if name not in PARAM_MAP:
        raise ValueError(f"model: expected one of {', '.join(SUPPORTED)} for the PyTorch oracle, got {name!r}")
    return name


def _check_theta(name: str, theta: Mapping[str, np.ndarray]) -> None:
    expected = (*PARAM_MAP[name], *STATE_NAMES[name])
    if not isinstance(theta, Mapping):
        raise TypeError(f"theta: expected a dict of numpy arrays, got {type(theta).__name__}")
    missing, extra = [k for k in expected if k not in theta], [k for k in theta if k not in expected]
    if missing or extra:
        raise ValueError(f"theta: expected keys {sorted(expected)} for {name!r}, got {sorted(theta)}"
                         + (f" (missing {missing})" if missing else "") + (f" (unexpected {extra})" if extra else ""))


def _build(name: str, theta: Mapping[str, np.ndarray]):
    """The nn module pair (recurrent layer, output Linear) holding our weights, in float64."""
    torch = _torch()
    first = next(iter(PARAM_MAP[name]))
    W_in = np.asarray(theta[first])  # (G*H, D)
    if W_in.ndim != 2 or np.asarray(theta["h0"]).ndim != 2:
        raise ValueError(f"theta: expected {first} (G*H, D) and h0 (B, H) to be 2-D, got shapes {W_in.shape} "
                         f"and {np.asarray(theta['h0']).shape}")
    H, D, V = np.asarray(theta["h0"]).shape[-1], W_in.shape[1], np.asarray(theta["W_hy"]).shape[0]
    f64 = torch.float64
    kwargs = {"nonlinearity": "tanh"} if name == "rnn" else {}
    # built on the meta device, then given empty CPU storage: every parameter is overwritten below,
    # so no random init runs and torch's global RNG is left alone
    rnn = getattr(torch.nn, MODULES[name])(D, H, num_layers=1, bias=True, batch_first=False, dtype=f64,
                                           device="meta", **kwargs).to_empty(device="cpu")
    out = torch.nn.Linear(H, V, dtype=f64, device="meta").to_empty(device="cpu")
    modules = {"rnn": rnn, "out": out}
    loaded = {t: np.asarray(theta[ours], dtype=np.float64) for ours, t in PARAM_MAP[name].items()}
    with torch.no_grad():
        for full, p in ((f"{m}.{n}", p) for m, mod in modules.items() for n, p in mod.named_parameters()):
            value = loaded.get(full, np.zeros(tuple(p.shape)))  # RNN/LSTM: bias_hh_l0 = 0
            if tuple(value.shape) != tuple(p.shape):
                ours = next((k for k, t in PARAM_MAP[name].items() if t == full), full)
                raise ValueError(f"theta[{ours!r}]: expected shape {tuple(p.shape)} for torch's {full}, "
                                 f"got {value.shape}")
            p.copy_(torch.from_numpy(value))
    return rnn, out


def run(model, theta: Mapping[str, np.ndarray], xs: np.ndarray, targets: np.ndarray) -> TorchRun:
    """Forward and backward through nn.RNN/LSTM/GRU + nn.Linear in float64; grads in torch's names.

    theta: our parameters plus h0 (and c0), each (B, H); xs (T, B, D) float; targets (T, B) ints.
    Float32 (or any real) inputs are upcast to float64: the oracle always computes in float64.
    """
    torch = _torch()
    name = check_model(model)
    _check_theta(name, theta)
    xs64 = np.asarray(xs, dtype=np.float64)
    targets = np.asarray(targets)
    if xs64.ndim != 3 or targets.shape != xs64.shape[:2]:
        raise ValueError(f"xs, targets: expected shapes (T, B, D) and (T, B), got {xs64.shape} and {targets.shape}")
    rnn, out = _build(name, theta)
    states = {k: torch.tensor(np.asarray(theta[k], dtype=np.float64)[None], requires_grad=True)
              for k in STATE_NAMES[name]}  # (1, B, H): one layer, one direction
    hx = (states["h0"], states["c0"]) if name == "lstm" else states["h0"]
    hs, _ = rnn(torch.from_numpy(xs64), hx)  # (T, B, H)
    logits = out(hs)  # (T, B, V)
    V = logits.shape[-1]
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), torch.from_numpy(targets.astype(np.int64))
                                             .reshape(-1), reduction="sum")
    loss.backward()
    grads = {f"{m}.{n}": p.grad.detach().numpy().copy()
             for m, mod in (("rnn", rnn), ("out", out)) for n, p in mod.named_parameters()}
    grads.update({k: s.grad.detach().numpy()[0].copy() for k, s in states.items()})
    return TorchRun(float(loss.detach()), logits.detach().numpy().copy(), grads)


def reverse(model, theta: Mapping[str, np.ndarray], xs: np.ndarray, targets: np.ndarray):
    """(loss, grads, logits) by PyTorch autograd in float64; grads has the keys of theta (our names).

    For "rnn" and "lstm" our b_h / b gets bias_ih_l0.grad, after checking that bias_hh_l0.grad equals
    it to float64 rounding (the two-bias fact; RuntimeError if not, which would mean a mis-built
    module). logits (T, B, V) are returned so tests can pin the forward as well.
    """
    name = check_model(model)
    result = run(name, theta, xs, targets)
    if name in ("rnn", "lstm"):
        report = compare("bias_hh_l0", result.grads["rnn.bias_hh_l0"], result.grads["rnn.bias_ih_l0"],
                         tolerance("float64", "torch"), "torch bias_ih_l0")
        if not report.ok:
            raise RuntimeError(f"two-bias check failed: nn.{MODULES[name]}'s bias_hh_l0 and bias_ih_l0 should "
                               f"get identical gradients: {report.text()}")
    grads = {ours: result.grads[t] for ours, t in PARAM_MAP[name].items()}
    grads.update({k: result.grads[k] for k in STATE_NAMES[name]})
    return result.loss, grads, result.logits
