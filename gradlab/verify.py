"""The main job: every registered model, every parameter, every oracle, one GradReport each.

``verify`` builds one reproducible problem per model (``Model.random_problem``), computes the
hand-written BPTT gradients in the requested dtype, and compares them with each oracle:

    jax-reverse   jax.value_and_grad of the independent JAX model (float64)
    jax-forward   jax.jvp along basis vectors of the same JAX model (float64)
    central       central differences of the NumPy forward (float64)
    complex-step  Im L(x + ih)/h of the NumPy forward (complex128)
    rtrl          the hand-written full forward mode (RNN only; float64)
    forward-bias  the hand-written forward-mode recursion for the bias vector(s) (float64)
    torch         nn.RNN / nn.LSTM / nn.GRU with our weights, autograd (float64); only where the
                  optional torch extra is installed and PyTorch has the model (not gru-cho)

Oracles always run in float64 on the same (exactly upcast) inputs. Per-element oracles probe at most
``max_probe`` entries of each parameter (a seeded random subset beyond that), so large sizes stay
feasible; the report says how many entries were checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from gradlab.compare import GradReport, compare_all
from gradlab.models.registry import MODELS, Model, get
from gradlab.models.sizes import Sizes, check_dtype
from gradlab.tolerances import tolerance

DEFAULT_SIZES = Sizes(T=5, B=3, D=4, H=6, V=7)  # small, all different: a transposition cannot hide
DEFAULT_MAX_PROBE = 256
ORACLE_ORDER = ("jax-reverse", "jax-forward", "central", "complex-step", "rtrl", "forward-bias", "torch")


def _jax(kind: str):
    from gradlab.oracles import jax_models  # imported lazily: JAX takes a second to import

    return jax_models.reverse if kind == "reverse" else jax_models.forward


def _oracle_grads(model: Model, oracle: str, theta64: dict, xs64, targets, probe) -> dict[str, np.ndarray]:
    from gradlab.oracles import finite_diff

    loss = lambda th: model.loss(th, xs64, targets)
    if oracle == "jax-reverse":
        return _jax("reverse")(model.name, theta64, xs64, targets)[1]
    if oracle == "jax-forward":
        return _jax("forward")(model.name, theta64, xs64, targets, probe)
    if oracle == "central":
        return finite_diff.central_differences(loss, theta64, probe)
    if oracle == "complex-step":
        return finite_diff.complex_step(loss, theta64, probe)
    state = model.state(theta64)
    if oracle == "rtrl":
        return model.module.rtrl(model.params(theta64), xs64, targets, state)
    if oracle == "forward-bias":
        return model.forward_mode_bias(model.params(theta64), xs64, targets, state)
    if oracle == "torch":
        from gradlab.oracles import torch_models

        return torch_models.reverse(model.name, theta64, xs64, targets)[1]
    raise ValueError(f"oracle: expected one of {', '.join(ORACLE_ORDER)}, got {oracle!r}")


def oracles_for(model: Model) -> tuple[str, ...]:
    """The oracles that apply to ``model``: every generic one, its own forward modes, and PyTorch where
    it is installed and has the model."""
    return tuple(o for o in ORACLE_ORDER if not skip_reason(model, o))


def skip_reason(model: Model, oracle: str) -> str:
    """Why ``oracle`` does not apply to ``model`` ("" when it does)."""
    if oracle == "rtrl" and "rtrl" not in model.extra_forward_modes:
        return "full RTRL is hand-written for the RNN only; forward-bias covers the bias vectors"
    if oracle == "torch":
        from gradlab.oracles import torch_models

        if model.name not in torch_models.SUPPORTED:
            return f"PyTorch has no {model.name} (nn.GRU resets after the matmul)"
        if not torch_models.available():
            return f"the optional torch extra is not installed: {torch_models.INSTALL_HINT}"
    return ""


def probe_for(theta: dict, max_probe: int, seed: int) -> dict[str, np.ndarray | None]:
    """Flat indices to probe per entry of theta: all, or a seeded subset of ``max_probe``."""
    rng = np.random.default_rng(seed)
    return {k: None if v.size <= max_probe else np.sort(rng.choice(v.size, max_probe, replace=False))
            for k, v in theta.items()}


@dataclass
class ModelResult:
    model: str
    reports: dict[str, list[GradReport]] = field(default_factory=dict)  # oracle -> one per parameter
    loss: float = float("nan")
    skipped: dict[str, str] = field(default_factory=dict)  # oracle -> why it does not apply

    @property
    def ok(self) -> bool:
        return all(r.ok for rs in self.reports.values() for r in rs)


@dataclass
class VerifyResult:
    sizes: Sizes
    dtype: str
    seed: int
    models: list[ModelResult]

    @property
    def ok(self) -> bool:
        return all(m.ok for m in self.models)

    def failures(self) -> list[GradReport]:
        return [r for m in self.models for rs in m.reports.values() for r in rs if not r.ok]

    def to_dict(self) -> dict:
        return {
            "ok": self.ok, "sizes": self.sizes._asdict(), "dtype": self.dtype, "seed": self.seed,
            "models": {m.model: {"ok": m.ok, "loss": m.loss, "skipped": m.skipped,
                                 "oracles": {o: {r.name: r.to_dict() for r in rs} for o, rs in m.reports.items()}}
                       for m in self.models},
        }


def parse_names(text: str | None, valid: Iterable[str], what: str) -> list[str]:
    """"a,b" -> ["a", "b"], each checked against ``valid``; None or "all" -> every valid name."""
    valid = list(valid)
    if text is None or text == "all":
        return valid
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in valid]
    if unknown or not names:
        raise ValueError(f"{what}: expected names from {', '.join(valid)} (comma-separated), got {text!r}")
    return names


def verify(models: Iterable[str] | None = None, oracles: Iterable[str] | None = None, sizes: Sizes = DEFAULT_SIZES,
           dtype="float64", seed: int = 0, max_probe: int = DEFAULT_MAX_PROBE,
           progress: Callable[[str, str], None] | None = None) -> VerifyResult:
    """Check every requested model against every requested (applicable) oracle.

    ``progress(model, oracle)`` is called after each oracle finishes (for a progress bar).
    """
    sizes = Sizes(*sizes).validate()
    dtype = check_dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype: expected float32 or float64 for verify, got {dtype}")
    if not isinstance(max_probe, int) or max_probe < 1:
        raise ValueError(f"max_probe: expected a positive integer, got {max_probe!r}")
    wanted = list(oracles) if oracles is not None else list(ORACLE_ORDER)
    results = []
    for name in (list(models) if models is not None else list(MODELS)):
        model = get(name)
        theta, xs, targets = model.random_problem(sizes, seed=seed, dtype=dtype)
        loss, ours = model.grads(theta, xs, targets)
        theta64 = {k: v.astype(np.float64) for k, v in theta.items()}
        xs64 = xs.astype(np.float64)
        probe = probe_for(theta64, max_probe, seed)
        result = ModelResult(name, loss=float(loss))
        result.skipped = {o: skip_reason(model, o) for o in wanted if skip_reason(model, o)}
        for oracle in (o for o in oracles_for(model) if o in wanted):
            theirs = _oracle_grads(model, oracle, theta64, xs64, targets, probe)
            result.reports[oracle] = compare_all(ours, theirs, tolerance(dtype, oracle), oracle)
            if progress:
                progress(name, oracle)
        results.append(result)
    if not any(m.reports for m in results):
        reasons = "; ".join(f"{m.model} {o}: {why}" for m in results for o, why in m.skipped.items())
        raise ValueError(f"oracles: none of {wanted} applies to the requested models ({reasons})")
    return VerifyResult(sizes, dtype.name, seed, results)


def count_steps(models: Iterable[str] | None, oracles: Iterable[str] | None) -> int:
    """How many (model, oracle) steps ``verify`` will run: the progress bar's total."""
    wanted = list(oracles) if oracles is not None else list(ORACLE_ORDER)
    return sum(sum(o in wanted for o in oracles_for(get(m))) for m in (models or MODELS))
