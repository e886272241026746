"""make, the presets, and variants: every convention a checker may meet is one distinct trajectory."""

import inspect
from itertools import combinations

import numpy as np
import pytest

from gradlab import optim
from gradlab.compare import compare_all
from gradlab.tolerances import tolerance
from tests.optim.support import PINNED_GRADS, PINNED_P0, trajectory

ROUNDING = tolerance("float64", "rounding")


def _same(a, b) -> bool:
    return all(r.ok for r in compare_all(a, b, ROUNDING, "variant"))


def test_make_uses_optax_defaults_and_presets_set_other_tools_defaults():
    assert optim.hyper_parameters("adagrad")["eps"] == 1e-7
    torch_adagrad = trajectory(optim.make("adagrad", "pytorch"), PINNED_P0, PINNED_GRADS)
    explicit = trajectory(optim.adagrad(1e-2, initial_accumulator_value=0.0, eps=1e-10, eps_in_sqrt=False),
                          PINNED_P0, PINNED_GRADS)
    assert _same(torch_adagrad, explicit)


def test_a_hyper_parameter_overrides_the_preset():
    a = trajectory(optim.make("rmsprop", "pytorch", learning_rate=0.1), PINNED_P0, PINNED_GRADS)
    b = trajectory(optim.rmsprop(0.1, decay=0.99, eps_in_sqrt=False), PINNED_P0, PINNED_GRADS)
    assert _same(a, b)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: optim.make("adamax", learning_rate=0.1), "unknown optimiser 'adamax'; known: sgd, momentum"),
    (lambda: optim.make("adam", "tensorflow"), "unknown preset 'tensorflow'"),
    (lambda: optim.make("adam", "minchar"), "preset 'minchar' defines no 'adam'; it has: adagrad"),
    (lambda: optim.make("adam", lr=0.1), r"adam has no hyper-parameter 'lr'.*did you mean learning_rate"),
    (lambda: optim.make("adam", "pytorch", weight_decay=1e-2), "coupled L2"),
    (lambda: optim.make("rmsprop", learning_rate=0.1, alpha=0.99), "did you mean decay"),
    (lambda: optim.make("adam"), r"adam needs learning_rate .*'pytorch': 0.001"),
    (lambda: optim.make("adam", learning_rate=-1.0), "adam: learning_rate must be > 0, got -1.0"),
    (lambda: optim.make("momentum", learning_rate=0.1, momentum=1.0), r"momentum: momentum must be in \[0, 1\)"),
    (lambda: optim.make("adamw", learning_rate=0.1, weight_decay=-1e-4), "weight_decay must be >= 0"),
    (lambda: optim.make("rmsprop", learning_rate=0.1, nesterov=True), "nesterov=True needs a momentum"),
])
def test_make_names_what_is_wrong(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("preset", list(optim.PRESETS))
def test_every_preset_names_real_optimisers_and_hyper_parameters(preset):
    for name, hyper in optim.PRESETS[preset].items():
        assert set(hyper) <= set(inspect.signature(optim.OPTIMIZERS[name]).parameters)
        optim.make(name, preset, learning_rate=0.1)


@pytest.mark.parametrize("name", list(optim.OPTIMIZERS))
def test_each_variant_is_a_distinct_trajectory_on_the_pinned_gradients(name):
    """Distinct by 1000x the rounding tolerance, so a student's own rounding cannot blur two of them
    (the closest pair measured: rmsprop eps 1e-8 vs 1e-10 outside the sqrt at decay 0.99, 1.4e-3)."""
    variants = optim.variants(name)
    assert len({v.label for v in variants}) == len(variants)
    runs = {v.label: trajectory(v.constructor(0.1), PINNED_P0, PINNED_GRADS) for v in variants}
    close = [(a, b, d) for a, b in combinations(runs, 2)
             if (d := max(r.max_rel_err for r in compare_all(runs[a], runs[b], ROUNDING, "variant")))
             <= 1e3 * ROUNDING.rtol]
    assert close == []


@pytest.mark.parametrize(("preset", "name"), [(p, n) for p in optim.PRESETS for n in optim.PRESETS[p]])
def test_every_preset_convention_is_exactly_one_variant(preset, name):
    """A checker trying variants(name) can name each tool's default (learning rate aside)."""
    ours = trajectory(optim.make(name, preset, learning_rate=0.1), PINNED_P0, PINNED_GRADS)
    matches = [v.label for v in optim.variants(name) if _same(trajectory(v.constructor(0.1), PINNED_P0,
                                                                           PINNED_GRADS), ours)]
    assert len(matches) == 1, matches
    if name != "sgd":
        assert preset in matches[0], matches  # the label says whose convention it is


def test_variant_constructors_take_the_students_hyper_parameters():
    ema = next(v for v in optim.variants("momentum") if "moving average" in v.label)
    a = trajectory(ema.constructor(0.1, momentum=0.5), PINNED_P0, PINNED_GRADS)
    b = trajectory(optim.momentum(0.1, momentum=0.5, dampening=0.5), PINNED_P0, PINNED_GRADS)
    assert _same(a, b)
    minchar = next(v for v in optim.variants("adagrad") if "minchar" in v.label)
    assert "G_0 = 0, eps = 1e-08 inside" in minchar.label
    np.testing.assert_allclose(trajectory(minchar.constructor(0.1), PINNED_P0, PINNED_GRADS)["p"][-1, 2],
                               0.12155429496, rtol=1e-10)
