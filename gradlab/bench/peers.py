"""The implementations a benchmark times, and the one agreement check each must pass first.

Each builder returns an ``Impl``: ``step()`` is the timed call (the loss and every gradient, finished:
JAX blocks until ready), ``fetch(step())`` gives (loss, grads) in gradlab's names as float64 NumPy.

    numpy        gradlab's hand-written BPTT, ``Model.grads`` (argument validation included)
    jax-jit      jax.jit(jax.value_and_grad(loss)) over lax.scan with the JAX oracle's loss functions;
                 the first call (trace + compile + one run) is reported as compile_s, never timed
    torch-fused  nn.RNN / nn.LSTM / nn.GRU + nn.Linear built once in the dtype, loss.backward()
    torch-cell   PyTorch autograd over a Python loop of a hand-written cell (the input projection and
                 the output layer batched over time, as gradlab does)
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradlab.compare import compare_all
from gradlab.models.registry import get
from gradlab.tolerances import tolerance

IMPLS = ("numpy", "jax-jit", "torch-fused", "torch-cell")
PEERS = IMPLS[1:]
# the tolerances.py row each is held to (in the benchmark's dtype); NumPy float32 against gradlab float64
# measures our float32 rounding, which is what every float32 row bounds
TOLERANCE_KEY = {"numpy": "jax-reverse", "jax-jit": "jax-reverse", "torch-fused": "torch", "torch-cell": "torch"}


@dataclass
class Impl:
    """One implementation ready to run: ``step`` is the timed call, ``fetch`` turns its result into
    (loss, grads) in gradlab's names as float64 NumPy (outside the timed region)."""

    name: str
    step: Callable[[], Any]
    fetch: Callable[[Any], tuple[float, dict[str, np.ndarray]]]
    compile_s: float | None = None


def _as_numpy(loss, grads) -> tuple[float, dict[str, np.ndarray]]:
    return float(loss), {k: np.asarray(v, np.float64) for k, v in grads.items()}


def numpy_impl(model: str, theta, xs, targets) -> Impl:
    m = get(model)
    return Impl("numpy", lambda: m.grads(theta, xs, targets), lambda out: _as_numpy(*out))


def jax_impl(model: str, theta, xs, targets) -> Impl:
    import jax
    import jax.numpy as jnp

    from gradlab.oracles import jax_models

    f = jax.jit(jax.value_and_grad(jax_models.LOSSES[model]))
    args = ({k: jnp.asarray(v) for k, v in theta.items()}, jnp.asarray(xs), jnp.asarray(targets))

    def step():
        return jax.block_until_ready(f(*args))

    start = time.perf_counter()
    step()  # trace + compile + one run
    return Impl("jax-jit", step, lambda out: _as_numpy(*out), compile_s=time.perf_counter() - start)


def _torch_inputs(xs, targets):
    import torch

    return torch, torch.from_numpy(xs), torch.from_numpy(np.asarray(targets, np.int64)).reshape(-1)


def torch_fused_impl(model: str, theta, xs, targets) -> Impl:
    from gradlab.oracles.torch_models import MODULES, PARAM_MAP, STATE_NAMES

    torch, xs_t, tg = _torch_inputs(xs, targets)
    dtype = {np.dtype("float32"): torch.float32, np.dtype("float64"): torch.float64}[xs.dtype]
    H, D, V = theta["h0"].shape[1], xs.shape[2], theta["W_hy"].shape[0]
    # built on the meta device and given empty storage: every parameter is overwritten below
    rnn = getattr(torch.nn, MODULES[model])(D, H, dtype=dtype, device="meta").to_empty(device="cpu")
    out = torch.nn.Linear(H, V, dtype=dtype, device="meta").to_empty(device="cpu")
    named = {f"rnn.{n}": p for n, p in rnn.named_parameters()} | {f"out.{n}": p for n, p in out.named_parameters()}
    ours = {t: k for k, t in PARAM_MAP[model].items()}
    with torch.no_grad():
        for full, p in named.items():  # nn.RNN / nn.LSTM: bias_hh_l0 = 0, our one bias is bias_ih_l0
            p.copy_(torch.from_numpy(theta[ours[full]]) if full in ours else torch.zeros_like(p))
    states = {k: torch.tensor(theta[k][None], requires_grad=True) for k in STATE_NAMES[model]}  # (1, B, H)
    leaves = [*named.values(), *states.values()]
    hx = tuple(states.values()) if model == "lstm" else states["h0"]

    def step():
        for p in leaves:
            p.grad = None
        loss = torch.nn.functional.cross_entropy(out(rnn(xs_t, hx)[0]).reshape(-1, V), tg, reduction="sum")
        loss.backward()
        return loss

    def fetch(loss):
        grads = {k: named[t].grad for k, t in PARAM_MAP[model].items()} | {k: s.grad[0] for k, s in states.items()}
        return _as_numpy(loss.item(), {k: g.numpy() for k, g in grads.items()})

    return Impl("torch-fused", step, fetch)


def torch_cell_impl(model: str, theta, xs, targets) -> Impl:
    torch, xs_t, tg = _torch_inputs(xs, targets)
    P = {k: torch.tensor(v, requires_grad=True) for k, v in theta.items()}
    cell = CELLS[model]

    def step():
        for p in P.values():
            p.grad = None
        hs = cell(torch, P, xs_t)  # (T, B, H)
        logits = hs @ P["W_hy"].T + P["b_y"]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tg, reduction="sum")
        loss.backward()
        return loss

    return Impl("torch-cell", step, lambda loss: _as_numpy(loss.item(), {k: p.grad.numpy() for k, p in P.items()}))


def _rnn_cells(torch, P, xs):
    a_x, h, hs = xs @ P["W_xh"].T + P["b_h"], P["h0"], []  # the input projection for every t at once
    for t in range(xs.shape[0]):
        h = torch.tanh(a_x[t] + h @ P["W_hh"].T)
        hs.append(h)
    return torch.stack(hs)


def _lstm_cells(torch, P, xs):
    a_x, h, c, hs = xs @ P["W_x"].T + P["b"], P["h0"], P["c0"], []
    for t in range(xs.shape[0]):
        i, f, g, o = (a_x[t] + h @ P["W_h"].T).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        hs.append(h)
    return torch.stack(hs)


def _gru_cells(torch, P, xs, reset_after=True):
    a_x, h, hs = xs @ P["W_x"].T + P["b_x"], P["h0"], []
    W_hrz, W_hn = P["W_h"].split(2 * h.shape[-1])
    b_hrz, b_hn = P["b_h"].split(2 * h.shape[-1])
    for t in range(xs.shape[0]):
        x_rz, x_n = a_x[t].split(2 * h.shape[-1], dim=-1)
        r, z = torch.sigmoid(x_rz + h @ W_hrz.T + b_hrz).chunk(2, dim=-1)
        n = torch.tanh(x_n + (r * (h @ W_hn.T + b_hn) if reset_after else (r * h) @ W_hn.T + b_hn))
        h = n + z * (h - n)
        hs.append(h)
    return torch.stack(hs)


CELLS = {"rnn": _rnn_cells, "lstm": _lstm_cells, "gru": _gru_cells,
         "gru-cho": lambda torch, P, xs: _gru_cells(torch, P, xs, reset_after=False)}
BUILDERS = {"numpy": numpy_impl, "jax-jit": jax_impl, "torch-fused": torch_fused_impl, "torch-cell": torch_cell_impl}


def skip_reason(impl: str, model: str) -> str:
    """Why ``impl`` cannot run ``model`` here ("" when it can)."""
    if impl == "jax-jit" and not importable("jax"):
        return "jax is not installed"
    if impl.startswith("torch") and not importable("torch"):
        return "torch is not installed: pip install -e '.[torch]'"
    if impl == "torch-fused" and model == "gru-cho":
        return "PyTorch has no reset-before (Cho 2014) GRU module"
    return ""


def importable(name: str) -> bool:
    return name in sys.modules or importlib.util.find_spec(name) is not None


@dataclass
class Agreement:
    """How one implementation's loss and gradients compare with gradlab's float64 BPTT."""

    model: str
    size: str
    dtype: str
    impl: str
    ok: bool
    max_rel_err: float
    loss_rel_err: float
    rtol: float
    failures: list[str] = field(default_factory=list)


def check_agreement(impl: str, model: str, size: str, dtype: str, reference: tuple[float, dict],
                    result: tuple[float, dict]) -> Agreement:
    """(loss, grads) of ``impl`` against the reference (gradlab in float64 on the same inputs), every
    gradient by gradlab.compare under tolerance(dtype, TOLERANCE_KEY[impl]), the loss by the same rtol."""
    tol = tolerance(dtype, TOLERANCE_KEY.get(impl, "jax-reverse"))
    ref_loss, ref_grads = reference
    loss, grads = result
    reports = compare_all(grads, ref_grads, tol, f"{impl} vs gradlab float64")
    loss_rel = abs(loss - ref_loss) / max(abs(ref_loss), 1.0)
    failures = [r.text() for r in reports if not r.ok]
    if not loss_rel <= tol.rtol:
        failures.append(f"loss: {impl} {loss:.9g}, gradlab {ref_loss:.9g}, rel err {loss_rel:.2e} > rtol {tol.rtol:.0e}")
    max_rel = max((r.max_rel_err for r in reports), default=0.0)
    return Agreement(model, size, dtype, impl, not failures, max_rel, loss_rel, tol.rtol, failures)
