"""gradlab/models/gru.py, both reset conventions ("gru" = after, PyTorch; "gru-cho" = before, Cho 2014):
conventions pinned by hand, BPTT against every oracle, and a twin per oracle test that plants a known
mistake in the backward and must be caught."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradlab import mistakes
from gradlab.compare import compare_all
from gradlab.models import gru, registry
from gradlab.models.sizes import Sizes
from gradlab.oracles import finite_diff, jax_models
from gradlab.tolerances import tolerance
from tests import support
from tests.support import sigma

NAMES = ("gru", "gru-cho")
RESET = {"gru": "after", "gru-cho": "before"}
EXAMPLES = settings(max_examples=6, deadline=None)  # each new shape costs one JAX compile (~2 s)
TWIN = Sizes(T=4, B=2, D=3, H=4, V=5)  # all different, so a transposed weight cannot pass


@st.composite
def problems(draw, name, dtypes=(np.float64,)):
    """(theta, xs, targets): drawn sizes, every parameter and h0 U(-scale, scale), scale up to 3."""
    sizes = Sizes(draw(st.integers(1, 6)), draw(st.integers(1, 3)), *(draw(st.integers(1, 5)) for _ in "DHV"))
    scale, dtype = draw(st.floats(0.1, 3.0)), draw(st.sampled_from(dtypes))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    theta, xs, targets = registry.get(name).random_problem(sizes, seed=int(rng.integers(2**32)))
    theta = {k: rng.uniform(-scale, scale, v.shape).astype(dtype) for k, v in theta.items()}
    return theta, xs.astype(dtype), targets


def twin_problem(name, dtype=np.float64):
    """A fixed, moderate problem (no saturation) on which every planted mistake shows."""
    return registry.get(name).random_problem(TWIN, seed=7, dtype=dtype)


def assert_ok(reports):
    assert all(r.ok for r in reports), "\n".join(r.text() for r in reports if not r.ok)


def assert_caught(reports):
    assert not all(r.ok for r in reports), "the planted mistake passed:\n" + "\n".join(r.text() for r in reports)


# --- planted mistakes come from the catalogue (gradlab/mistakes.py): each convention has its own ------

MUTANTS = ("other-reset", "z-swapped")


def grads_with(mutant, name, theta, xs, targets):
    """Our gradients under the catalogued mistake ``{name}-{mutant}``, or the right ones when None."""
    backward = None if mutant is None else mistakes.MISTAKES[f"{name}-{mutant}"].backward
    return support.grads_with(registry.get(name), theta, xs, targets, backward)


def oracle(oracle_name, name, theta, xs, targets):
    if oracle_name == "jax-reverse":
        return jax_models.reverse(name, theta, xs, targets)[1]
    return finite_diff.complex_step(lambda th: registry.get(name).loss(th, xs, targets), theta)


# --- conventions, pinned by hand -------------------------------------------------------------------

def one_unit(b_hn):
    """H = D = 1: rows r, z, n with all-different numbers; the logits are h_1 itself (W_hy = 1)."""
    params = {"W_x": np.array([[0.3], [-0.2], [0.5]]), "W_h": np.array([[0.4], [0.6], [-0.7]]),
              "b_x": np.array([0.1, 0.2, -0.3]), "b_h": np.array([-0.15, 0.05, b_hn]),
              "W_hy": np.ones((1, 1)), "b_y": np.zeros(1)}
    return params, np.full((1, 1, 1), 0.7), np.full((1, 1), 0.5)


@pytest.mark.parametrize("reset", ["after", "before"])
def test_one_unit_follows_the_rows_r_z_n_and_its_reset_placement(reset):
    x, h, b_hn = 0.7, 0.5, 0.35
    r = sigma(0.3 * x + 0.1 + 0.4 * h - 0.15)
    z = sigma(-0.2 * x + 0.2 + 0.6 * h + 0.05)
    if reset == "after":
        n = math.tanh(0.5 * x - 0.3 + r * (-0.7 * h + b_hn))  # r * (W_hn h + b_hn)
    else:
        n = math.tanh(0.5 * x - 0.3 + -0.7 * (r * h) + b_hn)  # W_hn (r * h) + b_hn
    logits, cache = gru.forward(*one_unit(b_hn), reset=reset)
    np.testing.assert_allclose(cache.gates[0, 0], [r, z, n])
    np.testing.assert_allclose(logits[0, 0, 0], (1 - z) * n + z * h)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reset", ["after", "before"])
def test_gates_keep_their_relative_accuracy_deep_in_saturation_and_overflow_quietly(reset, dtype):
    """sigma(-30) = 9.36e-14 to full relative accuracy (the form (1 + tanh(a/2))/2 gave 0 in float32 and a
    relative error of 1.7e-4 in float64); a = -1000 makes exp overflow, which must give r = 0 silently."""
    params, xs, h0 = one_unit(0.35)
    params = {k: v.astype(dtype) for k, v in params.items()}
    xs, h0 = xs.astype(dtype), h0.astype(dtype)
    for a_r, a_z in ((-30.0, 30.0), (-1000.0, 1000.0)):
        params["b_x"][:2] = [a_r - 0.3 * 0.7 - 0.4 * 0.5 + 0.15, a_z + 0.2 * 0.7 - 0.6 * 0.5 - 0.05]  # see one_unit
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an overflow RuntimeWarning under NumPy's default error state fails
            _, cache = gru.forward(params, xs, h0, reset=reset)
        r, z = cache.gates[0, 0, :2]
        np.testing.assert_allclose([r, z], [sigma(a_r), sigma(a_z)], rtol=1e-5 if dtype == np.float32 else 1e-9)


def test_the_reset_placement_matters_unless_one_unit_has_no_recurrent_candidate_bias():
    after, _ = gru.forward(*one_unit(0.0), reset="after")
    before, _ = gru.forward(*one_unit(0.0), reset="before")
    np.testing.assert_allclose(after, before)  # H = 1, b_hn = 0: r (w h) = w (r h)
    assert not np.allclose(gru.forward(*one_unit(0.35), reset="after")[0],
                           gru.forward(*one_unit(0.35), reset="before")[0])
    theta, xs, _ = twin_problem("gru")
    params = {**registry.get("gru").params(theta), "b_h": np.zeros(3 * TWIN.H)}
    after, _ = gru.forward(params, xs, theta["h0"], reset="after")
    before, _ = gru.forward(params, xs, theta["h0"], reset="before")
    assert not np.allclose(after, before)  # H > 1: r gates W_hn's rows or its columns


def test_bias_gradients_r_z_rows_agree_and_the_n_rows_agree_only_before():
    H = TWIN.H
    for name in NAMES:
        _, g = registry.get(name).grads(*twin_problem(name))
        rz = compare_all({"b": g["b_h"][:2 * H]}, {"b": g["b_x"][:2 * H]}, tolerance(np.float64, "jax-reverse"), "b_x")
        n = compare_all({"b": g["b_h"][2 * H:]}, {"b": g["b_x"][2 * H:]}, tolerance(np.float64, "jax-reverse"), "b_x")
        assert_ok(rz)
        (assert_ok if name == "gru-cho" else assert_caught)(n)  # before: b_hn sits beside b_xn


def test_registry_lists_both_conventions_with_the_rnn_contract():
    for name in NAMES:
        model = registry.get(name)
        assert model.module.RESET == RESET[name] and model.state_names == ("h0",)
        theta, xs, targets = twin_problem(name)
        _, cache = model.forward(model.params(theta), xs, theta["h0"])
        assert cache.reset == RESET[name]
        assert set(model.grads(theta, xs, targets)[1]) == {*gru.PARAM_SHAPES, "h0"}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("steps", [1, 3])
def test_the_backward_does_not_depend_on_where_its_blocks_of_steps_fall(name, steps, monkeypatch):
    """Blocks of 1 and of 3 steps against one block (it failed on a GRU backward that sliced its block's
    factors twice)."""
    support.assert_blocks_do_not_change_the_grads(registry.get(name), gru, steps, monkeypatch)


def test_t_equals_1_is_one_step_and_prefixes_do_not_see_the_future():
    for name in NAMES:
        theta, xs, _ = twin_problem(name)
        p, h0 = registry.get(name).params(theta), theta["h0"]
        W_r, W_z, W_n = np.split(p["W_h"], 3)
        x_r, x_z, x_n = np.split(xs[0] @ p["W_x"].T + p["b_x"], 3, axis=-1)
        b_r, b_z, b_n = np.split(p["b_h"], 3)
        r, z = 1 / (1 + np.exp(-(x_r + h0 @ W_r.T + b_r))), 1 / (1 + np.exp(-(x_z + h0 @ W_z.T + b_z)))
        n = np.tanh(x_n + (r * (h0 @ W_n.T + b_n) if name == "gru" else (r * h0) @ W_n.T + b_n))
        one, _ = gru.forward(p, xs[:1], h0, reset=RESET[name])
        full, _ = gru.forward(p, xs, h0, reset=RESET[name])
        np.testing.assert_allclose(one[0], ((1 - z) * n + z * h0) @ p["W_hy"].T + p["b_y"])
        np.testing.assert_allclose(one[0], full[0])


@pytest.mark.parametrize("name", NAMES)
def test_backward_is_linear_in_dlogits(name):
    theta, xs, _ = twin_problem(name)
    params = registry.get(name).params(theta)
    _, cache = gru.forward(params, xs, theta["h0"], reset=RESET[name])
    d1, d2 = np.random.default_rng(1).standard_normal((2, TWIN.T, TWIN.B, TWIN.V))
    both = gru.backward(params, cache, 2 * d1 - 3 * d2)
    apart = {k: 2 * v - 3 * gru.backward(params, cache, d2)[k] for k, v in gru.backward(params, cache, d1).items()}
    assert_ok(compare_all(both, apart, tolerance(np.float64, "jax-reverse"), "linearity"))  # exact-arithmetic row


# --- bad input ---------------------------------------------------------------------------------------

def test_bad_input_raises_value_errors_that_name_the_argument():
    theta, xs, targets = twin_problem("gru")
    params, h0 = registry.get("gru").params(theta), theta["h0"]
    with pytest.raises(ValueError, match=r"params\['W_h'\]: expected shape \(3H, H\) = \(12, 4\), got \(12, 3\)"):
        gru.forward({**params, "W_h": params["W_h"][:, :3]}, xs, h0)
    with pytest.raises(ValueError, match=r"h0: expected shape \(B, H\) = \(2, 4\), got \(3, 4\)"):
        gru.loss_and_grads(params, xs, targets, np.zeros((3, 4)))
    for call in (lambda: gru.forward(params, xs, h0, reset="middle"),
                 lambda: gru.forward_mode_bias(params, xs, targets, h0, reset="After"),
                 lambda: gru.convention("cho")):
        with pytest.raises(ValueError, match=r"reset: expected 'after' .* or 'before' .*, got"):
            call()


# --- oracles, each with its twin ---------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
@EXAMPLES
@given(data=st.data())
def test_bptt_matches_jax_reverse_mode(name, data):
    theta, xs, targets = data.draw(problems(name, dtypes=(np.float64, np.float32)))
    _, ours = registry.get(name).grads(theta, xs, targets)
    assert_ok(compare_all(ours, oracle("jax-reverse", name, theta, xs, targets), tolerance(xs.dtype, "jax-reverse"),
                          "jax-reverse"))


@pytest.mark.parametrize("name", NAMES)
@EXAMPLES
@given(data=st.data())
def test_bptt_matches_the_complex_step(name, data):
    theta, xs, targets = data.draw(problems(name))
    _, ours = registry.get(name).grads(theta, xs, targets)
    assert_ok(compare_all(ours, oracle("complex-step", name, theta, xs, targets),
                          tolerance(np.float64, "complex-step"), "complex-step"))


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_forward_mode_bias_matches_bptt(name, data):
    theta, xs, targets = data.draw(problems(name, dtypes=(np.float64, np.float32)))
    model = registry.get(name)
    _, ours = model.grads(theta, xs, targets)
    forward = model.forward_mode_bias(model.params(theta), xs, targets, theta["h0"])
    assert set(forward) == {"b_x", "b_h"}
    assert_ok(compare_all(ours, forward, tolerance(xs.dtype, "forward-bias"), "forward-bias"))


@pytest.mark.parametrize("mutant", MUTANTS)
@pytest.mark.parametrize("name", NAMES)
def test_twin_a_planted_mistake_is_caught_in_float32(name, mutant):
    theta, xs, targets = twin_problem(name, np.float32)
    truth, tol = oracle("jax-reverse", name, theta, xs, targets), tolerance(np.float32, "jax-reverse")
    assert_caught(compare_all(grads_with(mutant, name, theta, xs, targets), truth, tol, "jax-reverse"))


@pytest.mark.parametrize("mutant", MUTANTS)
@pytest.mark.parametrize("name", NAMES)
def test_twin_forward_mode_disagrees_with_a_planted_mistake(name, mutant):
    theta, xs, targets = twin_problem(name)
    model = registry.get(name)
    forward = model.forward_mode_bias(model.params(theta), xs, targets, theta["h0"])
    wrong = grads_with(mutant, name, theta, xs, targets)
    assert_caught(compare_all(wrong, forward, tolerance(np.float64, "forward-bias"), "forward-bias"))


# --- PyTorch pins the forward convention and the gradients (skipped without the torch extra) ---------

@pytest.mark.torch
def test_reset_after_matches_torch_nn_gru_and_reset_before_does_not():
    torch = pytest.importorskip("torch", reason="the torch extra is not installed: pip install -e '.[torch]'")
    theta, xs, targets = twin_problem("gru")
    net = torch.nn.GRU(TWIN.D, TWIN.H, dtype=torch.float64)
    with torch.no_grad():
        for name, ours in [("weight_ih_l0", "W_x"), ("weight_hh_l0", "W_h"), ("bias_ih_l0", "b_x"),
                           ("bias_hh_l0", "b_h")]:
            getattr(net, name).copy_(torch.from_numpy(theta[ours]))
    leaves = {k: torch.tensor(theta[k], requires_grad=True) for k in ("W_hy", "b_y", "h0")}
    hs, _ = net(torch.from_numpy(xs), leaves["h0"][None])
    logits = hs @ leaves["W_hy"].T + leaves["b_y"]
    torch.nn.functional.cross_entropy(logits.flatten(0, 1), torch.from_numpy(targets).flatten(), reduction="sum"
                                      ).backward()
    theirs = {"W_x": net.weight_ih_l0.grad, "W_h": net.weight_hh_l0.grad, "b_x": net.bias_ih_l0.grad,
              "b_h": net.bias_hh_l0.grad, **{k: v.grad for k, v in leaves.items()}}
    theirs = {k: v.numpy() for k, v in theirs.items()}
    params = registry.get("gru").params(theta)
    np.testing.assert_allclose(gru.forward(params, xs, theta["h0"])[0], logits.detach().numpy())
    assert not np.allclose(gru.forward(params, xs, theta["h0"], reset="before")[0], logits.detach().numpy())
    tol = tolerance(np.float64, "torch")
    assert_ok(compare_all(registry.get("gru").grads(theta, xs, targets)[1], theirs, tol, "torch"))
    assert_caught(compare_all(grads_with("other-reset", "gru", theta, xs, targets), theirs, tol, "torch"))


def test_after_factors_are_the_local_derivatives_with_x_q():
    """after_factors fuses local_derivatives' formulas for reset "after" (x = q); the two must not drift."""
    rng = np.random.default_rng(7)
    T, B, H = 3, 2, 4
    gates = rng.uniform(0.05, 0.95, (T, B, 3 * H))  # r, z in (0, 1); n in (-1, 1) is what matters, any works
    gates[..., 2 * H:] = rng.uniform(-0.95, 0.95, (T, B, H))
    h_prev, q = rng.standard_normal((T, B, H)), rng.standard_normal((T, B, H))
    g, dn_dh = gru.after_factors(gates, h_prev, q)
    ref_dn_dh, dz_dh, dr_d = gru.local_derivatives(gates, h_prev, q)
    r, z, _ = gru.split_gates(gates)
    np.testing.assert_allclose(dn_dh, ref_dn_dh, rtol=1e-15)
    np.testing.assert_allclose(g, np.stack([dr_d * ref_dn_dh, dz_dh, r * ref_dn_dh, z], axis=-2), rtol=1e-14)
    assert not np.allclose(g[..., 0, :], dr_d), "the twin: da_r's factor without dn_dh would be a different number"
