"""gradlab/models/rnn.py: conventions pinned by hand, properties, forward mode (RTRL) against BPTT."""

import math

import numpy as np
import pytest
from hypothesis import given

from gradlab import mistakes
from gradlab.compare import compare_all
from gradlab.models import rnn
from gradlab.models.losses import softmax_cross_entropy
from gradlab.models.registry import MODELS
from gradlab.models.sizes import Sizes
from gradlab.tolerances import tolerance
from tests.support import failures, fixed_problem, grads_with, problems

RNN = MODELS["rnn"]
RNN_MISTAKES = [pytest.param(m, id=m.id) for m in mistakes.for_model("rnn")]
SIZES = Sizes(T=4, B=3, D=2, H=5, V=6)  # all different, so a transposed weight cannot pass


ROUNDING = tolerance("float64", "rounding")


def assert_same(ours, theirs):
    """Equal up to rounding, parameter by parameter (tolerances.py: "rounding")."""
    assert failures(compare_all(ours, theirs, ROUNDING, "rounding")) == []


def _problem(sizes=SIZES, seed=0, dtype=np.float64):
    theta, xs, targets = RNN.random_problem(sizes, seed=seed, dtype=dtype)
    return RNN.params(theta), xs, targets, theta["h0"]


def test_one_step_by_hand():
    W_xh, W_hh, b_h, h0, x = 0.5, -0.3, 0.1, 0.2, 1.0
    W_hy, b_y, target = (1.0, -2.0), (0.0, 0.5), 1
    h = math.tanh(W_xh * x + W_hh * h0 + b_h)  # z = 0.54
    o = [W_hy[0] * h + b_y[0], W_hy[1] * h + b_y[1]]
    p = [math.exp(v) / (math.exp(o[0]) + math.exp(o[1])) for v in o]
    dy = [p[0], p[1] - 1]  # p - onehot(1)
    dh = W_hy[0] * dy[0] + W_hy[1] * dy[1]
    dz = dh * (1 - h * h)
    params = {"W_xh": np.array([[W_xh]]), "W_hh": np.array([[W_hh]]), "b_h": np.array([b_h]),
              "W_hy": np.array([[W_hy[0]], [W_hy[1]]]), "b_y": np.array(b_y)}
    loss, g = rnn.loss_and_grads(params, np.array([[[x]]]), np.array([[target]]), np.array([[h0]]))
    assert float(loss) == pytest.approx(-math.log(p[1]), rel=ROUNDING.rtol)
    expected = {"W_hy": [[dy[0] * h], [dy[1] * h]], "b_y": dy, "W_xh": [[dz * x]], "W_hh": [[dz * h0]],
                "b_h": [dz], "h0": [[dz * W_hh]]}
    assert_same(g, {k: np.array(v) for k, v in expected.items()})


def _minchar_loss_and_grads(params, xs, targets, h0):
    """min-char-rnn's lossFun written as Karpathy's gist does: column vectors, one sequence, per step."""
    Wxh, Whh, Why = params["W_xh"], params["W_hh"], params["W_hy"]
    bh, by = params["b_h"][:, None], params["b_y"][:, None]
    hs, ps, loss = {-1: h0[:, None]}, {}, 0.0
    for t in range(len(xs)):
        hs[t] = np.tanh(Wxh @ xs[t][:, None] + Whh @ hs[t - 1] + bh)
        y = Why @ hs[t] + by
        ps[t] = np.exp(y - y.max()) / np.sum(np.exp(y - y.max()))
        loss += -np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby, dhnext = np.zeros_like(bh), np.zeros_like(by), np.zeros_like(hs[0])
    for t in reversed(range(len(xs))):
        dy = ps[t].copy()
        dy[targets[t]] -= 1
        dWhy += dy @ hs[t].T
        dby += dy
        dh = Why.T @ dy + dhnext
        dhraw = (1 - hs[t] ** 2) * dh
        dbh += dhraw
        dWxh += dhraw @ xs[t][None, :]
        dWhh += dhraw @ hs[t - 1].T
        dhnext = Whh.T @ dhraw
    return loss, {"W_xh": dWxh, "W_hh": dWhh, "W_hy": dWhy, "b_h": dbh[:, 0], "b_y": dby[:, 0], "h0": dhnext[:, 0]}


def test_batched_bptt_equals_min_char_rnn_per_sequence():
    params, xs, targets, h0 = _problem()
    loss, grads = rnn.loss_and_grads(params, xs, targets, h0)
    per_sequence = [_minchar_loss_and_grads(params, xs[:, b], targets[:, b], h0[b]) for b in range(xs.shape[1])]
    total = {k: sum(g[k] for _, g in per_sequence) for k in rnn.PARAM_SHAPES}
    total["h0"] = np.stack([g["h0"] for _, g in per_sequence])
    assert float(loss) == pytest.approx(sum(l for l, _ in per_sequence), rel=ROUNDING.rtol)
    assert_same(grads, total)


def test_backward_is_linear_in_the_upstream_gradient():
    params, xs, _, h0 = _problem()
    _, cache = rnn.forward(params, xs, h0)
    rng = np.random.default_rng(3)
    d1, d2 = rng.standard_normal((2, SIZES.T, SIZES.B, SIZES.V))
    g1, g2 = rnn.backward(params, cache, d1), rnn.backward(params, cache, d2)
    g12 = rnn.backward(params, cache, 2.0 * d1 - 0.5 * d2)
    assert_same(g12, {k: 2.0 * g1[k] - 0.5 * g2[k] for k in g12})


@pytest.mark.parametrize("name", sorted(MODELS))
def test_backward_takes_dlogits_of_another_dtype(name):
    """The bias gradients are one GEMV with a row of ones (rnn.time_sum), and BLAS runs in one dtype: float32
    dlogits into a float64 cache must still give float64 gradients, equal to those of the same numbers in
    float64. (It raised ValueError in every model when time_sum first came in.)"""
    model = MODELS[name]
    theta, xs, _ = model.random_problem(Sizes(T=3, B=2, D=4, H=5, V=6), seed=1)
    logits, cache = model.forward(model.params(theta), xs, model.state(theta))
    dlogits = np.random.default_rng(2).standard_normal(logits.shape).astype(np.float32)
    mixed = model.backward(model.params(theta), cache, dlogits)
    same = model.backward(model.params(theta), cache, dlogits.astype(np.float64))
    assert all(value.dtype == np.float64 for value in mixed.values())
    assert_same(mixed, same)  # (a float32 sum would differ by ~1e-7, beyond "rounding")


def test_permuting_the_batch_permutes_h0_grads_and_keeps_parameter_grads():
    params, xs, targets, h0 = _problem()
    perm = np.array([2, 0, 1])
    _, g = rnn.loss_and_grads(params, xs, targets, h0)
    _, gp = rnn.loss_and_grads(params, xs[:, perm], targets[:, perm], h0[perm])
    assert_same(gp, {**g, "h0": g["h0"][perm]})


def test_splitting_a_sequence_and_carrying_the_state_gives_the_same_logits():
    params, xs, _, h0 = _problem()
    logits, _cache = rnn.forward(params, xs, h0)
    first, c1 = rnn.forward(params, xs[:2], h0)
    second, _ = rnn.forward(params, xs[2:], c1.hs[-1])
    np.testing.assert_array_equal(np.concatenate([first, second]), logits)


def test_float32_stays_float32_and_complex128_equals_float64_on_real_inputs():
    params, xs, targets, h0 = _problem()
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    loss32, g32 = rnn.loss_and_grads(p32, xs.astype(np.float32), targets, h0.astype(np.float32))
    assert loss32.dtype == np.float32 and all(v.dtype == np.float32 for v in g32.values())
    pc = {k: v.astype(np.complex128) for k, v in params.items()}
    loss_c, g_c = rnn.loss_and_grads(pc, xs.astype(np.complex128), targets, h0.astype(np.complex128))
    loss64, g64 = rnn.loss_and_grads(params, xs, targets, h0)
    assert loss_c.dtype == np.complex128 and loss_c.imag == 0 and loss_c.real == pytest.approx(float(loss64))
    assert all(np.all(v.imag == 0) for v in g_c.values())
    assert_same({k: v.real for k, v in g_c.items()}, g64)


def test_mean_reduction_divides_loss_and_grads_by_T_times_B():
    params, xs, targets, h0 = _problem()
    loss_s, g_s = rnn.loss_and_grads(params, xs, targets, h0)
    loss_m, g_m = rnn.loss_and_grads(params, xs, targets, h0, reduction="mean")
    n = SIZES.T * SIZES.B
    assert float(loss_m) == pytest.approx(float(loss_s) / n)
    assert_same(g_m, {k: v / n for k, v in g_s.items()})


# --- forward mode: the bias recursion and full RTRL against BPTT ---------------------------------

@given(problems(models=("rnn",), dtypes=("float64", "float32"), max_n=6))
def test_forward_mode_bias_recursion_equals_bptt(problem):
    model, theta, xs, targets = problem
    ours = grads_with(model, theta, xs, targets)
    fwd = rnn.forward_mode_bias(model.params(theta), xs, targets, theta["h0"])
    assert failures(compare_all(ours, fwd, tolerance(xs.dtype, "forward-bias"), "forward-bias")) == []


@given(problems(models=("rnn",), dtypes=("float64", "float32"), max_n=6))
def test_full_rtrl_equals_bptt(problem):
    model, theta, xs, targets = problem
    ours = grads_with(model, theta, xs, targets)
    fwd = rnn.rtrl(model.params(theta), xs, targets, theta["h0"])
    assert set(fwd) == {"W_xh", "W_hh", "b_h", "h0"}
    assert failures(compare_all(ours, fwd, tolerance(xs.dtype, "rtrl"), "rtrl")) == []


@pytest.mark.parametrize("mistake", RNN_MISTAKES)
def test_rtrl_catches_a_mutated_backward(mistake):
    model, theta, xs, targets = fixed_problem(RNN)
    ours = grads_with(model, theta, xs, targets, mistake.backward)
    fwd = rnn.rtrl(model.params(theta), xs, targets, theta["h0"])
    assert failures(compare_all(ours, fwd, tolerance("float64", "rtrl"), "rtrl"))


def test_forward_mode_bias_catches_a_dropped_recurrent_term():
    model, theta, xs, targets = fixed_problem(RNN)
    wrong = grads_with(model, theta, xs, targets, mistakes.MISTAKES["rnn-recurrent-term-dropped"].backward)
    fwd = rnn.forward_mode_bias(model.params(theta), xs, targets, theta["h0"])
    reports = compare_all(wrong, fwd, tolerance("float64", "forward-bias"), "forward-bias")
    assert [r.name for r in reports if not r.ok] == ["b_h"]


def test_rtrl_fed_total_dh_instead_of_e_t_double_counts():
    """REFERENCE.md pitfall 14: the recursion must be fed e_t, not BPTT's accumulated dh_t."""
    params, xs, targets, h0 = _problem()
    logits, cache = rnn.forward(params, xs, h0)
    _, dlogits = softmax_cross_entropy(logits, targets)
    _, e = rnn.output_backward(params, cache, dlogits)
    dz, _ = rnn.recurrence_backward(params["W_hh"], cache.hs, e)
    total_dh = dz / (1 - cache.hs[1:] ** 2)
    J = np.zeros((SIZES.B, SIZES.H, SIZES.H))
    wrong = np.zeros(SIZES.H)
    for t in range(SIZES.T):
        J = (1 - cache.hs[t + 1] ** 2)[:, :, None] * (np.eye(SIZES.H) + params["W_hh"] @ J)
        wrong += np.einsum("bkj,bk->j", J, total_dh[t])
    right = rnn.forward_mode_bias(params, xs, targets, h0)["b_h"]
    assert np.max(np.abs(wrong - right)) > 1e-3


def test_rtrl_refuses_sizes_it_cannot_hold():
    params, xs, targets, h0 = _problem(Sizes(2, 1, 3, 400, 2))
    with pytest.raises(ValueError, match=r"rtrl: expected B\*H\*H\*\(H\+D\) <= .* got"):
        rnn.rtrl(params, xs, targets, h0)


# --- bad input: errors name the argument, the expected and the actual -----------------------------

def test_bad_inputs_name_the_argument_and_both_shapes():
    params, xs, targets, h0 = _problem()
    cases = [
        ({"targets": targets + SIZES.V}, ValueError, r"targets: expected class indices in \[0, V\) = \[0, 6\), got"),
        ({"targets": targets[:-1]}, ValueError, r"targets: expected shape \(T, B\) = \(4, 3\) to match xs, got \(3, 3\)"),
        ({"targets": targets.astype(float)}, TypeError, "targets: expected an integer dtype, got float64"),
        ({"h0": h0[:, :-1]}, ValueError, r"h0: expected shape \(B, H\) = \(3, 5\), got \(3, 4\)"),
        ({"xs": xs[..., :-1]}, ValueError, r"xs: expected last dimension D = 2 \(from the params\), got shape"),
        ({"xs": xs[0]}, ValueError, r"xs: expected a 3-D array \(T, B, D\), got shape \(3, 2\)"),
        ({"xs": xs.tolist()}, TypeError, "xs: expected a numpy array"),
        ({"params": {**params, "W_hh": params["W_hh"][:, :-1]}}, ValueError,
         r"params\['W_hh'\]: expected shape \(H, H\) = \(5, 5\), got \(5, 4\)"),
        ({"params": {k: v for k, v in params.items() if k != "b_y"}}, ValueError, r"missing \['b_y'\]"),
        ({"params": {**params, "b_h": params["b_h"].astype(int)}}, TypeError,
         r"params\['b_h'\]: expected a float or complex dtype, got int"),
    ]
    for change, error, message in cases:
        args = {"params": params, "xs": xs, "targets": targets, "h0": h0, **change}
        with pytest.raises(error, match=message):
            rnn.loss_and_grads(**args)


def test_bad_dlogits_and_reduction():
    params, xs, targets, h0 = _problem()
    _, cache = rnn.forward(params, xs, h0)
    with pytest.raises(ValueError, match=r"dlogits: expected shape \(T, B, V\) = \(4, 3, 6\), got \(4, 3, 5\)"):
        rnn.backward(params, cache, np.zeros((4, 3, 5)))
    with pytest.raises(ValueError, match=r"reduction: expected one of \('sum', 'mean'\), got 'avg'"):
        rnn.loss_and_grads(params, xs, targets, h0, reduction="avg")


def test_init_follows_pytorch_bounds_and_dtype():
    params = rnn.init(SIZES, np.random.default_rng(0), np.float32)
    assert {k: v.shape for k, v in params.items()} == {
        "W_xh": (5, 2), "W_hh": (5, 5), "W_hy": (6, 5), "b_h": (5,), "b_y": (6,)}
    assert all(v.dtype == np.float32 and np.abs(v).max() <= 1 / np.sqrt(5) for v in params.values())
    with pytest.raises(TypeError, match="dtype: expected a float or complex dtype"):
        rnn.init(SIZES, np.random.default_rng(0), np.int32)
    with pytest.raises(ValueError, match="sizes.H: expected a positive integer, got 0"):
        rnn.init(Sizes(1, 1, 1, 0, 1), np.random.default_rng(0))


def test_linear_writes_into_a_contiguous_out_and_refuses_a_strided_one():
    """linear(..., out=) is how the models put a projection where its result goes (hs[1:], the gates); a
    strided out would be reshaped into a copy and the product silently lost."""
    rng = np.random.default_rng(3)
    x, W, b = rng.standard_normal((3, 2, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    hs = np.zeros((4, 2, 5))
    assert rnn.linear(x, W, b, out=hs[1:]) is not None
    np.testing.assert_allclose(hs[1:], x @ W.T + b, rtol=1e-15)
    with pytest.raises(ValueError, match="linear: expected a C-contiguous out"):
        rnn.linear(x, W, b, out=np.zeros((3, 2, 10))[..., ::2])
