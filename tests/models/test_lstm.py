"""gradlab/models/lstm.py: conventions pinned by hand, BPTT against every oracle, and a twin per
oracle test that plants a known mistake in the backward and must be caught."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradlab import mistakes
from gradlab.compare import compare_all
from gradlab.models import lstm, registry
from gradlab.models.sizes import Sizes
from gradlab.oracles import finite_diff, jax_models
from gradlab.tolerances import tolerance
from tests import support
from tests.support import sigma

MODEL = registry.get("lstm")
EXAMPLES = settings(max_examples=10, deadline=None)  # each new shape costs one JAX compile (~1 s)
TWIN = Sizes(T=4, B=2, D=3, H=4, V=5)  # all different, so a transposed weight cannot pass


@st.composite
def problems(draw, dtypes=(np.float64,)):
    """(theta, xs, targets): drawn sizes, every parameter and state U(-scale, scale), scale up to 3."""
    sizes = Sizes(draw(st.integers(1, 6)), draw(st.integers(1, 3)), *(draw(st.integers(1, 5)) for _ in "DHV"))
    scale, dtype = draw(st.floats(0.1, 3.0)), draw(st.sampled_from(dtypes))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    theta, xs, targets = MODEL.random_problem(sizes, seed=int(rng.integers(2**32)))
    theta = {k: rng.uniform(-scale, scale, v.shape).astype(dtype) for k, v in theta.items()}
    return theta, xs.astype(dtype), targets


def twin_problem(dtype=np.float64):
    """A fixed, moderate problem (no saturation) on which every planted mistake shows."""
    return MODEL.random_problem(TWIN, seed=7, dtype=dtype)


def assert_ok(reports):
    assert all(r.ok for r in reports), "\n".join(r.text() for r in reports if not r.ok)


def assert_caught(reports):
    assert not all(r.ok for r in reports), "the planted mistake passed:\n" + "\n".join(r.text() for r in reports)


# --- planted mistakes come from the catalogue (gradlab/mistakes.py) ---------------------------------

MUTANTS = {m.id: m.backward for m in mistakes.for_model("lstm")}


def grads_with(backward, theta, xs, targets):
    """Our gradients by ``backward`` (a catalogued mistake), or by lstm.backward when None."""
    return support.grads_with(MODEL, theta, xs, targets, backward)


def oracle(name, theta, xs, targets):
    if name == "jax-reverse":
        return jax_models.reverse("lstm", theta, xs, targets)[1]
    return finite_diff.complex_step(lambda th: MODEL.loss(th, xs, targets), theta)


# --- conventions, pinned by hand -------------------------------------------------------------------

def sigma_np(a):
    return 1 / (1 + np.exp(-a))


def test_one_unit_follows_the_pytorch_gate_order_i_f_g_o():
    x, h0, c0 = 0.7, 0.5, -0.25
    W_x, W_h, b = [0.3, -0.2, 0.5, 0.1], [0.4, 0.6, -0.7, 0.2], [0.1, 0.2, -0.3, 0.4]
    a = [W_x[k] * x + W_h[k] * h0 + b[k] for k in range(4)]
    i, f, g, o = sigma(a[0]), sigma(a[1]), math.tanh(a[2]), sigma(a[3])
    c1 = f * c0 + i * g
    h1 = o * math.tanh(c1)
    params = {"W_x": np.array(W_x)[:, None], "W_h": np.array(W_h)[:, None], "b": np.array(b),
              "W_hy": np.ones((2, 1)), "b_y": np.zeros(2)}
    _, cache = lstm.forward(params, np.full((1, 1, 1), x), (np.full((1, 1), h0), np.full((1, 1), c0)))
    np.testing.assert_allclose([cache.cs[1, 0, 0], cache.hs[1, 0, 0]], [c1, h1])
    np.testing.assert_allclose(cache.gates[0, 0], [i, f, g, o])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gates_keep_their_relative_accuracy_deep_in_saturation_and_overflow_quietly(dtype):
    """The forward's exp form: sigma(-30) = 9.36e-14 to full relative accuracy in i, f and o (the form
    (1 + tanh(a/2))/2 gives 0 in float32 and a relative error of 1.7e-4 in float64); pre-activations of
    -+1000 make exp overflow, which must give sigma = 0 and g = -1 silently; g = 2 sigma(2a) - 1 stays
    within a few ulps of tanh(a) across its range (absolutely: its relative accuracy goes where g -> 0)."""
    eps = np.finfo(dtype).eps
    for a_i, a_f, a_g, a_o in ((-30.0, 30.0, 0.3, -30.0), (-1000.0, 1000.0, -1000.0, 1000.0),
                               (0.0, -5.0, 1000.0, 5.0), (1.0, 2.0, 1e-3, -1.0), (3.0, -3.0, -2.5, 0.5)):
        params = {"W_x": np.zeros((4, 1), dtype), "W_h": np.zeros((4, 1), dtype),
                  "b": np.array([a_i, a_f, a_g, a_o], dtype), "W_hy": np.ones((2, 1), dtype),
                  "b_y": np.zeros(2, dtype)}
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an overflow RuntimeWarning under NumPy's default error state fails
            _, cache = lstm.forward(params, np.zeros((1, 1, 1), dtype), np.zeros((1, 1), dtype))
        i, f, g, o = cache.gates[0, 0]
        np.testing.assert_allclose([i, f, o], [sigma(a_i), sigma(a_f), sigma(a_o)], rtol=4 * eps, atol=0)
        assert abs(g - math.tanh(a_g)) <= 4 * eps, (a_g, g)


def test_forget_bias_sets_only_the_f_block_and_the_default_is_pytorch_uniform():
    sizes, H = Sizes(2, 2, 3, 4, 5), 4
    plain = lstm.init(sizes, np.random.default_rng(0))
    keras = lstm.init(sizes, np.random.default_rng(0), forget_bias=1.0)
    assert all(np.abs(v).max() <= 1 / math.sqrt(H) for v in plain.values())
    np.testing.assert_array_equal(keras["b"][H:2 * H], np.ones(H))
    np.testing.assert_array_equal(np.delete(keras["b"], np.s_[H:2 * H]), np.delete(plain["b"], np.s_[H:2 * H]))
    with pytest.raises(TypeError, match="forget_bias"):
        lstm.init(sizes, np.random.default_rng(0), forget_bias="1")


def test_h0_alone_means_c0_is_zero_and_grads_still_hold_c0():
    theta, xs, targets = twin_problem()
    params, h0 = MODEL.params(theta), theta["h0"]
    loss_h, grads_h = lstm.loss_and_grads(params, xs, targets, h0)
    loss_pair, grads_pair = lstm.loss_and_grads(params, xs, targets, (h0, np.zeros_like(h0)))
    assert loss_h == loss_pair
    assert set(grads_h) == {*lstm.PARAM_SHAPES, "h0", "c0"}
    for k in grads_pair:
        np.testing.assert_array_equal(grads_h[k], grads_pair[k])


@pytest.mark.parametrize("steps", [1, 3])
def test_the_backward_does_not_depend_on_where_its_blocks_of_steps_fall(steps, monkeypatch):
    """Blocks of 1 and of 3 steps against one block (it failed on a GRU backward that sliced its block's
    factors twice)."""
    support.assert_blocks_do_not_change_the_grads(registry.get("lstm"), lstm, steps, monkeypatch)


def test_t_equals_1_is_one_step_and_prefixes_do_not_see_the_future():
    theta, xs, _ = twin_problem()
    params, (h0, c0) = MODEL.params(theta), MODEL.state(theta)
    a = xs[0] @ params["W_x"].T + h0 @ params["W_h"].T + params["b"]  # (B, 4H), one step by hand
    i, f, g, o = np.split(a, 4, axis=-1)
    h1 = sigma_np(o) * np.tanh(sigma_np(f) * c0 + sigma_np(i) * np.tanh(g))
    one, _ = lstm.forward(params, xs[:1], (h0, c0))
    full, _ = lstm.forward(params, xs, (h0, c0))
    np.testing.assert_allclose(one[0], h1 @ params["W_hy"].T + params["b_y"])
    np.testing.assert_allclose(one[0], full[0])


def test_backward_is_linear_in_dlogits():
    theta, xs, _ = twin_problem()
    params = MODEL.params(theta)
    _, cache = lstm.forward(params, xs, MODEL.state(theta))
    rng = np.random.default_rng(1)
    d1, d2 = rng.standard_normal((2, TWIN.T, TWIN.B, TWIN.V))
    both = lstm.backward(params, cache, 2 * d1 - 3 * d2)
    apart = {k: 2 * v - 3 * lstm.backward(params, cache, d2)[k] for k, v in lstm.backward(params, cache, d1).items()}
    assert_ok(compare_all(both, apart, tolerance(np.float64, "jax-reverse"), "linearity"))  # exact-arithmetic row


def test_mean_reduction_divides_loss_and_grads_by_t_times_b():
    theta, xs, targets = twin_problem()
    loss_sum, g_sum = MODEL.grads(theta, xs, targets)
    loss_mean, g_mean = lstm.loss_and_grads(MODEL.params(theta), xs, targets, MODEL.state(theta), "mean")
    n = TWIN.T * TWIN.B
    np.testing.assert_allclose(loss_mean * n, loss_sum)
    assert_ok(compare_all({k: v * n for k, v in g_mean.items()}, g_sum, tolerance(np.float64, "jax-reverse"), "sum"))


# --- bad input ---------------------------------------------------------------------------------------

def test_bad_shapes_raise_value_errors_that_name_the_argument():
    theta, xs, targets = twin_problem()
    params, (h0, c0) = MODEL.params(theta), MODEL.state(theta)
    with pytest.raises(ValueError, match=r"params\['W_h'\]: expected shape \(4H, H\) = \(16, 4\), got \(16, 3\)"):
        lstm.forward({**params, "W_h": params["W_h"][:, :3]}, xs, (h0, c0))
    with pytest.raises(ValueError, match=r"c0: expected shape \(B, H\) = \(2, 4\), got \(2, 5\)"):
        lstm.loss_and_grads(params, xs, targets, (h0, np.zeros((2, 5))))
    with pytest.raises(ValueError, match="state: expected h0 or the pair"):
        lstm.forward(params, xs, (h0, c0, c0))
    with pytest.raises(ValueError, match="dlogits"):
        lstm.backward(params, lstm.forward(params, xs, h0)[1], np.zeros((1, 2, 5)))


# --- oracles, each with its twin ---------------------------------------------------------------------

@EXAMPLES
@given(problems(dtypes=(np.float64, np.float32)))
def test_bptt_matches_jax_reverse_mode(problem):
    theta, xs, targets = problem
    _, ours = MODEL.grads(theta, xs, targets)
    assert_ok(compare_all(ours, oracle("jax-reverse", theta, xs, targets), tolerance(xs.dtype, "jax-reverse"),
                          "jax-reverse"))


@EXAMPLES
@given(problems())
def test_bptt_matches_the_complex_step(problem):
    theta, xs, targets = problem
    _, ours = MODEL.grads(theta, xs, targets)
    assert_ok(compare_all(ours, oracle("complex-step", theta, xs, targets), tolerance(np.float64, "complex-step"),
                          "complex-step"))


@settings(max_examples=25, deadline=None)
@given(problems(dtypes=(np.float64, np.float32)))
def test_forward_mode_bias_matches_bptt(problem):
    theta, xs, targets = problem
    _, ours = MODEL.grads(theta, xs, targets)
    forward = MODEL.forward_mode_bias(MODEL.params(theta), xs, targets, MODEL.state(theta))
    assert set(forward) == {"b"}
    assert_ok(compare_all(ours, forward, tolerance(xs.dtype, "forward-bias"), "forward-bias"))


@pytest.mark.parametrize("mutant", MUTANTS)
def test_twin_a_planted_mistake_is_caught_in_float32(mutant):
    theta, xs, targets = twin_problem(np.float32)
    truth, tol = oracle("jax-reverse", theta, xs, targets), tolerance(np.float32, "jax-reverse")
    assert_caught(compare_all(grads_with(MUTANTS[mutant], theta, xs, targets), truth, tol, "jax-reverse"))


@pytest.mark.parametrize("mutant", MUTANTS)
def test_twin_forward_mode_disagrees_with_a_planted_mistake(mutant):
    theta, xs, targets = twin_problem()
    forward = MODEL.forward_mode_bias(MODEL.params(theta), xs, targets, MODEL.state(theta))
    wrong = grads_with(MUTANTS[mutant], theta, xs, targets)
    assert_caught(compare_all(wrong, forward, tolerance(np.float64, "forward-bias"), "forward-bias"))


# --- PyTorch pins the forward convention and the gradients (skipped without the torch extra) ---------

@pytest.mark.torch
def test_matches_torch_nn_lstm_with_our_weights_copied_in():
    torch = pytest.importorskip("torch", reason="the torch extra is not installed: pip install -e '.[torch]'")
    theta, xs, targets = twin_problem()
    net = torch.nn.LSTM(TWIN.D, TWIN.H, dtype=torch.float64)
    with torch.no_grad():
        for name, ours in [("weight_ih_l0", theta["W_x"]), ("weight_hh_l0", theta["W_h"]),
                           ("bias_ih_l0", theta["b"]), ("bias_hh_l0", 0 * theta["b"])]:
            getattr(net, name).copy_(torch.from_numpy(ours))
    leaves = {k: torch.tensor(theta[k], requires_grad=True) for k in ("W_hy", "b_y", "h0", "c0")}
    hs, _ = net(torch.from_numpy(xs), (leaves["h0"][None], leaves["c0"][None]))
    logits = hs @ leaves["W_hy"].T + leaves["b_y"]
    torch.nn.functional.cross_entropy(logits.flatten(0, 1), torch.from_numpy(targets).flatten(), reduction="sum"
                                      ).backward()
    theirs = {"W_x": net.weight_ih_l0.grad, "W_h": net.weight_hh_l0.grad, "b": net.bias_ih_l0.grad,
              **{k: v.grad for k, v in leaves.items()}}
    tol = tolerance(np.float64, "torch")
    both_biases = {"b": net.bias_hh_l0.grad.numpy()}  # PyTorch's two biases each get our db
    assert_ok(compare_all(both_biases, {"b": net.bias_ih_l0.grad.numpy()}, tol, "torch"))
    ours_logits, _ = lstm.forward(MODEL.params(theta), xs, MODEL.state(theta))
    np.testing.assert_allclose(ours_logits, logits.detach().numpy())
    assert_ok(compare_all(MODEL.grads(theta, xs, targets)[1], {k: v.numpy() for k, v in theirs.items()}, tol, "torch"))
    assert_caught(compare_all(grads_with(MUTANTS["lstm-forget-on-c_t"], theta, xs, targets), {k: v.numpy() for k, v in theirs.items()},
                              tol, "torch"))
