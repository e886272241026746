"""Transform, chain and step: pure, dtype-keeping, and strict about the gradients they are given."""

import numpy as np
import pytest

from gradlab import optim
from tests.optim.support import fixed_problem


def _leaves(tree):
    """Every array inside a state (NamedTuples, tuples, dicts), for before/after comparisons."""
    if isinstance(tree, dict):
        return [x for v in tree.values() for x in _leaves(v)]
    if isinstance(tree, tuple):
        return [x for v in tree for x in _leaves(v)]
    return [np.asarray(tree)]


@pytest.mark.parametrize("name", list(optim.OPTIMIZERS))
def test_step_mutates_neither_params_grads_nor_state(name):
    opt = optim.make(name, learning_rate=0.1)
    p0, grads = fixed_problem(steps=2)
    g0 = {k: v[0] for k, v in grads.items()}
    p1, s1 = opt.step(p0, g0, opt.init(p0))
    before = [x.copy() for x in [*p1.values(), *g0.values(), *_leaves(s1)]]
    p2, s2 = opt.step(p1, g0, s1)
    p2_again, s2_again = opt.step(p1, g0, s1)  # the same inputs give the same outputs: no hidden state
    after = [*p1.values(), *g0.values(), *_leaves(s1)]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    assert all(np.array_equal(a, b) for a, b in zip([*p2.values(), *_leaves(s2)], [*p2_again.values(),
                                                                                   *_leaves(s2_again)]))
    assert not any(np.shares_memory(p2[k], x) for k in p2 for x in [p1[k], g0[k]])


def test_state_never_aliases_the_callers_gradient():
    """PyTorch's momentum buffer starts as g; a caller reusing its gradient array must not change it."""
    opt = optim.make("momentum", "pytorch", learning_rate=0.1)
    p0 = {"w": np.array([1.0, 2.0])}
    g = {"w": np.array([0.5, -0.5])}
    _, s1 = opt.step(p0, g, opt.init(p0))
    g["w"] *= 100  # in-place, as min-char-rnn's `dWxh += ...` buffers are reused
    assert np.array_equal(s1[0].trace["w"], [0.5, -0.5])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_step_keeps_the_parameter_dtype(dtype):
    opt = optim.make("adam", learning_rate=0.1)
    p0 = {"w": np.ones((2, 3), dtype)}
    p1, state = opt.step(p0, {"w": np.full((2, 3), 0.5)}, opt.init(p0))
    assert p1["w"].dtype == dtype and state[0].mu["w"].dtype == dtype


def test_chain_state_is_the_tuple_of_its_parts_and_count_starts_at_zero():
    opt = optim.chain(optim.clip(5.0), optim.make("adam", learning_rate=0.1))
    p0 = {"w": np.ones(3)}
    state = opt.init(p0)
    assert isinstance(state[0], optim.EmptyState) and state[1][0].count == 0
    _, state = opt.step(p0, {"w": np.ones(3)}, state)
    assert state[1][0].count == 1  # steps taken; the bias correction used t = count + 1 = 1


def test_chain_names_a_non_transform_argument():
    with pytest.raises(TypeError, match="argument 1 must be a Transform"):
        optim.chain(optim.clip(1.0), "adam")


@pytest.mark.parametrize(("grads", "match"), [
    ({"W": np.zeros((3, 2)), "b": np.zeros(4)}, r"grads\['W'\] has shape \(3, 2\), expected \(2, 3\)"),
    ({"W": np.zeros((2, 3))}, r"missing \['b'\]"),
    ({"W": np.zeros((2, 3)), "b": np.zeros(4), "c": np.zeros(1)}, r"unexpected \['c'\]"),
    ({"W": np.zeros((2, 3)), "b": np.array(["a"] * 4)}, r"grads\['b'\] has dtype"),
])
def test_step_rejects_gradients_that_do_not_match_the_params(grads, match):
    p0, _ = fixed_problem(steps=1)
    opt = optim.make("sgd", learning_rate=0.1)
    with pytest.raises(ValueError, match=match):
        opt.step(p0, grads, opt.init(p0))


def test_step_rejects_integer_params():
    opt = optim.make("sgd", learning_rate=0.1)
    with pytest.raises(ValueError, match=r"params\['w'\] has dtype int64"):
        opt.step({"w": np.arange(3)}, {"w": np.ones(3)}, opt.init({"w": np.ones(3)}))
