"""gradlab/verify.py: the main job passes on the real models and fails, naming the parameter, on a mutant."""

import dataclasses

import pytest

from gradlab import mistakes, verify
from gradlab.models import registry
from gradlab.models.sizes import Sizes
from gradlab.oracles import torch_models


def test_every_model_parameter_and_oracle_passes_on_the_defaults():
    result = verify.verify()
    assert result.ok, [r.text() for r in result.failures()]
    rnn = next(m for m in result.models if m.model == "rnn")
    assert list(rnn.reports) == [o for o in verify.ORACLE_ORDER if o != "torch" or torch_models.available()]
    assert set(rnn.reports) | set(rnn.skipped) == set(verify.ORACLE_ORDER)
    cho = next(m for m in result.models if m.model == "gru-cho")
    assert "rtrl" in cho.skipped and "PyTorch has no gru-cho" in cho.skipped["torch"]
    names = {o: [r.name for r in rs] for o, rs in rnn.reports.items()}
    for oracle in ("jax-reverse", "jax-forward", "central", "complex-step"):
        assert names[oracle] == ["W_xh", "W_hh", "W_hy", "b_h", "b_y", "h0"]
    assert names["rtrl"] == ["W_xh", "W_hh", "b_h", "h0"]
    assert names["forward-bias"] == ["b_h"]


def test_float32_passes_against_float64_oracles():
    result = verify.verify(models=["rnn"], sizes=Sizes(3, 2, 3, 4, 5), dtype="float32")
    assert result.ok and result.dtype == "float32"


def test_large_parameters_are_probed_on_a_sample():
    result = verify.verify(models=["rnn"], oracles=["central"], sizes=Sizes(3, 1, 20, 12, 4), max_probe=16)
    reports = {r.name: r for r in result.models[0].reports["central"]}
    assert reports["W_xh"].n_checked == 16 and reports["b_h"].n_checked == 12
    assert result.ok


def test_a_mutated_backward_fails_and_is_named(monkeypatch):
    rnn = registry.MODELS["rnn"]
    wrong = mistakes.MISTAKES["rnn-recurrent-term-dropped"].backward

    class Mutant:  # the rnn module with its backward swapped for the mistake
        def __getattr__(self, name):
            return wrong if name == "backward" else getattr(rnn.module, name)

        def loss_and_grads(self, params, xs, targets, h0):
            from gradlab.models.losses import softmax_cross_entropy

            logits, cache = rnn.module.forward(params, xs, h0)
            loss, dlogits = softmax_cross_entropy(logits, targets)
            return loss, wrong(params, cache, dlogits)

    monkeypatch.setitem(registry.MODELS, "rnn", dataclasses.replace(rnn, module=Mutant()))
    result = verify.verify(models=["rnn"], oracles=["jax-reverse", "forward-bias"])
    assert not result.ok
    failed = {(r.oracle, r.name) for r in result.failures()}
    assert ("jax-reverse", "b_h") in failed and ("forward-bias", "b_h") in failed
    assert ("jax-reverse", "b_y") not in failed  # the output layer is untouched by this mistake


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="model: expected one of"):
        verify.verify(models=["elman"])
    with pytest.raises(ValueError, match="oracles: expected names from"):
        verify.parse_names("jax,central", verify.ORACLE_ORDER, "oracles")
    with pytest.raises(ValueError, match="dtype: expected float32 or float64 for verify, got complex128"):
        verify.verify(dtype="complex128")
    with pytest.raises(ValueError, match="max_probe: expected a positive integer, got 0"):
        verify.verify(max_probe=0)
    with pytest.raises(ValueError, match=r"oracles: none of \['rtrl'\] applies .*gru-cho rtrl: full RTRL"):
        verify.verify(models=["gru-cho"], oracles=["rtrl"])
