"""gradlab/student/adapters.py: the students' layouts, checked against implementations run in-process.

The examples are OUR files, imported here only to pin the layouts (gradlab's checker itself never
imports a submission: the sandbox tests cover that).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from gradlab.models.registry import get
from gradlab.models.sizes import Sizes
from gradlab.student.adapters import LSTM_CS231N_BLOCKS, Cs231n, Minchar, _blocks, draw_theta
from tests.student.conftest import EXAMPLES

SIZES = Sizes(4, 2, 3, 5, 7)


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("model", ["rnn", "lstm"])
@pytest.mark.parametrize("unit", ["seq", "step"])
def test_cs231n_references_equal_the_example_run_on_the_same_arguments(model, unit):
    ad, mod = Cs231n(model, unit), _load(f"cs231n_{model}")
    p = ad.problem(SIZES, 4)
    fwd, bwd = (getattr(mod, n) for n in ad.functions)
    call = ad.call(p.sizes)
    out = fwd(*(p.args[k] for k in call["fargs"]))
    values, cache = out[:-1], out[-1]
    grads = bwd(*(p.args[k] for k in call["upstream"]), cache)
    names = call["value_names"] + [o.name for o in ad.outs(p.sizes) if o.role == "grad"]
    for name, got in zip(names, list(values) + list(grads)):
        assert np.allclose(got, p.ref[name], rtol=1e-11, atol=1e-13), name


def test_minchar_references_equal_the_example_without_its_clip():
    mod = _load("minchar_rnn")
    ad = Minchar(H=6, V=5)
    p = ad.problem(ad.sizes(7), 2)
    for name in ("Wxh", "Whh", "Why", "bh", "by"):
        setattr(mod, name, p.args[name].copy())
    mod.vocab_size = 5
    loss, *grads, h = mod.lossFun(list(p.iargs["inputs"]), list(p.iargs["targets"]), p.args["hprev"])
    assert np.isclose(loss, p.ref["loss"], rtol=1e-13)
    for name, g in zip(("dWxh", "dWhh", "dWhy", "dbh", "dby"), grads):
        assert np.allclose(g, np.clip(p.ref[name], -5, 5), rtol=1e-11, atol=1e-13), name
    assert np.allclose(h, p.ref["h"])


def test_the_lstm_block_permutation_is_its_own_inverse_and_moves_g_and_o():
    H = 2
    b = np.repeat(np.arange(4.0), H)  # blocks i=0, f=1, g=2, o=3 in gradlab's order
    cs = _blocks(b, H, LSTM_CS231N_BLOCKS)
    assert list(cs) == [0, 0, 1, 1, 3, 3, 2, 2]  # cs231n: i, f, o, g
    assert np.array_equal(_blocks(cs, H, LSTM_CS231N_BLOCKS), b)


def test_values_are_of_order_one_and_prefixes_share_the_parameters():
    theta = draw_theta(get("rnn"), Sizes(5, 2, 3, 100, 7), np.random.default_rng(0))
    assert 0.1 < np.abs(theta["W_xh"]).max() <= 1.0 and np.abs(theta["W_hh"]).max() <= 0.2
    ad = Minchar(H=4, V=6)
    p = ad.problem(ad.sizes(5), 0)
    q = ad.prefix(p, 2)
    assert q.args["Whh"] is p.args["Whh"] and list(q.iargs["inputs"]) == list(p.iargs["inputs"][:2])
