"""gradlab/student/optimizer_check.py: conventions recognised, catalogued mistakes named honestly, the rest
"unrecognised" with evidence; the student's update rule runs only in the sandbox."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from gradlab import cli, optim
from gradlab.optim.mistakes import OPTIMIZER_MISTAKES, mistakes_for
from gradlab.student import optimizer_check as oc
from gradlab.tolerances import tolerance
from tests.student.conftest import EXAMPLES

OPTIM = EXAMPLES / "optim"
LR = oc.LEARNING_RATE
P0, GRADS = oc.problem()


def _run(constructor):
    return oc.trajectory(constructor(LR), P0, GRADS)


def _diagnose(name, student):
    return oc.diagnose(name, student, P0, GRADS, LR)


# --- in process: the matching itself ------------------------------------------------------------------------

def test_every_catalogued_mutation_is_named_and_nothing_else_is_claimed():
    for mistake in OPTIMIZER_MISTAKES.values():
        d = _diagnose(mistake.optimizer, _run(mistake.constructor))
        assert d.matched == [], mistake.id
        assert [m.id for m, _, _ in d.mistakes] == [mistake.id], mistake.id
        _, convention, divergence = d.mistakes[0]
        assert convention == d.closest and divergence.step >= 1


@pytest.mark.parametrize("name", list(optim.OPTIMIZERS))
def test_every_convention_is_recognised_never_named_as_a_mistake(name):
    for v in oc.conventions(name):
        d = _diagnose(name, _run(v.constructor))
        assert d.matched and d.matched[0] == v.label, (v.label, d.matched)
        assert d.mistakes == [] and d.divergence is None


@pytest.mark.parametrize("name", ["momentum", "rmsprop", "adagrad", "adam"])
def test_a_mistake_made_in_another_convention_is_still_named(name):
    """The last convention (e.g. RMSprop centered, decay 0.99, eps outside) with each mistake written in it."""
    others = oc.conventions(name)[1:]
    for mistake in mistakes_for(name):
        v = next((v for v in reversed(others) if mistake.forms(v.constructor)), None)
        if v is None:
            continue
        for form in mistake.forms(v.constructor):
            d = _diagnose(name, _run(form))
            assert mistake.id in [m.id for m, _, _ in d.mistakes], (mistake.id, v.label)


def test_state_not_carried_diverges_from_step_2_exactly():
    d = _diagnose("rmsprop", _run(OPTIMIZER_MISTAKES["rmsprop-state-not-carried"].constructor))
    assert d.divergence.step == 2 and d.mistakes[0][2].step == 2
    assert all(rel[0].max() <= oc.TOL.rtol < rel[1].max() for rel in d.errors.values())


@pytest.mark.parametrize("seed", range(4))
def test_a_random_wrong_update_is_unrecognised_with_its_first_step_parameter_and_index(seed):
    rng = np.random.default_rng(seed)
    name = list(optim.OPTIMIZERS)[seed % len(optim.OPTIMIZERS)]
    student = _run(optim.variants(name)[0].constructor)
    step, param = int(rng.integers(1, oc.STEPS)), str(rng.choice(list(oc.SHAPES)))
    index = tuple(int(rng.integers(0, n)) for n in oc.SHAPES[param])
    student[param][step - 1:][(slice(None), *index)] += rng.uniform(0.01, 0.1)  # a wrong step, carried on
    d = _diagnose(name, student)
    assert d.matched == [] and d.mistakes == []
    assert (d.divergence.step, d.divergence.param, d.divergence.index) == (step, param, index)
    assert d.divergence.student == student[param][(step - 1, *index)]


def test_a_wrong_learning_rate_is_unrecognised_from_step_1():
    d = _diagnose("momentum", _run(lambda lr: optim.momentum(1.5 * lr)))
    assert d.matched == [] and d.mistakes == [] and d.divergence.step == 1


@pytest.mark.parametrize("name", list(optim.OPTIMIZERS))
def test_candidates_are_far_apart_compared_with_the_tolerance(name):
    """Every two conventions, and every convention and mistake, differ by >= 1000 x the rtol (student rounding
    cannot blur them; the reason in tolerances.py quotes the closest pair)."""
    conventions = [_run(v.constructor) for v in oc.conventions(name)]
    mutants = [_run(f) for m in mistakes_for(name) for v in oc.conventions(name) for f in m.forms(v.constructor)]
    pairs = itertools.chain(itertools.combinations(conventions, 2), itertools.product(conventions, mutants))
    closest = min(max(float(r.max()) for r in oc.relative_errors(a, b).values()) for a, b in pairs)
    assert closest >= 1e3 * tolerance("float64", "student-optim").rtol


def test_relative_errors_count_nan_against_nan_as_equal_and_nan_against_a_number_as_wrong():
    ref = {"w": np.array([[np.nan, 1.0], [2.0, 3.0]])}
    rel = oc.relative_errors({"w": np.array([[np.nan, np.nan], [2.0, 3.0]])}, ref)["w"]
    assert rel[0, 0] == 0 and rel[0, 1] == np.inf and rel[1].max() == 0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"optimizer": "adamax"}, "optimizer: expected one of sgd, momentum"),
    ({"optimizer": "adam", "steps": 5}, "steps: expected an int >= 10, got 5"),
    ({"optimizer": "adam", "learning_rate": -1.0}, "learning_rate: expected a number > 0, got -1.0"),
    ({"optimizer": "adam", "style": "cs231n"}, "style: for --optimizer expected one of gradlab, minchar"),
])
def test_bad_arguments_raise_value_errors_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        oc.check_optimizer(OPTIM / "adam.py", **kwargs)


# --- through the sandbox ----------------------------------------------------------------------------------

def test_the_rebinding_rmsprop_is_state_not_carried_from_step_2():
    r = oc.check_optimizer(OPTIM / "rmsprop_rebinds_cache.py", "rmsprop")
    assert (r.verdict, r.style, r.exit_code) == ("wrong", "minchar", 1)
    assert [(m["title"], m["from_step"]) for m in r.mistakes] == [("state not carried between steps", 2)]
    assert {p.first_bad_T for p in r.params} == {2}
    d = r.to_dict()
    assert d["optimizer"] == "rmsprop" and "model" not in d and d["sandbox"]["tier"]


def test_a_correct_native_step_and_its_convention():
    r = oc.check_optimizer(OPTIM / "rmsprop_decay_099.py", "rmsprop")
    assert r.verdict == "correct" and r.mistakes == [] and all(p.ok for p in r.params)
    variant = next(c for c in r.conventions if c["id"] == "variant")
    assert variant["label"] == "decay 0.99, eps = 1e-08 outside the sqrt [pytorch]"


def test_an_unrecognised_error_says_where_and_names_nothing():
    r = oc.check_optimizer(OPTIM / "adam_betas_swapped.py", "adam")
    assert r.verdict == "wrong" and r.mistakes == []
    assert r.diagnosis.startswith("unrecognised error")
    assert r.unrecognised["from_step"] == r.first_bad_step == 1 and r.unrecognised["param"] in oc.SHAPES


def test_a_step_that_raises_could_not_run_and_says_at_which_step(tmp_path):
    f = tmp_path / "raises.py"
    f.write_text("def step(params, grads, state, lr):\n    n = (state or 0) + 1\n    if n == 3:\n"
                 "        raise RuntimeError('boom')\n    return params, n\n")
    r = oc.check_optimizer(f, "sgd")
    assert (r.verdict, r.error["kind"]) == ("error", "exception")
    assert "RuntimeError: boom (at step 3)" in r.error["message"] and "raises.py" in r.error["traceback"]


@pytest.mark.parametrize(("source", "kind"), [
    ("def step(params, grads, state, lr):\n    return params\n", "bad_return"),
    ("def update(params, grads):\n    pass\n", "contract"),
    ("def forward(x):\n    return x\n", "missing_function"),
    ("def step(p, g, s, lr):\n    return p, s\ndef update(p, g, m, lr):\n    pass\n", "style"),
])
def test_files_outside_the_contract_could_not_run(tmp_path, source, kind):
    f = tmp_path / "sub.py"
    f.write_text(source)
    r = oc.check_optimizer(f, "sgd")
    assert (r.verdict, r.error["kind"], r.exit_code) == ("error", kind, 2)


def test_cli_json_and_exit_codes(capsys):
    assert cli.main(["check", str(OPTIM / "rmsprop_rebinds_cache.py"), "--optimizer", "rmsprop", "--json"]) == 1
    d = json.loads(capsys.readouterr().out)
    assert d["verdict"] == "wrong" and d["mistakes"][0]["id"] == "rmsprop-state-not-carried"
    assert cli.main(["check", str(OPTIM / "adagrad_minchar.py"), "--optimizer", "adagrad"]) == 0
    out = capsys.readouterr().out
    assert "convention: implements adagrad as: G_0 = 0, eps = 1e-08 inside the sqrt [minchar]" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--optimizer", "adamax"], "optimizer: expected one of sgd"),
    (["--optimizer", "adam", "--model", "rnn"], "--model: does not apply with --optimizer"),
])
def test_cli_bad_optimizer_arguments_exit_2_with_one_line(capsys, argv, message):
    assert cli.main(["check", str(OPTIM / "adam.py"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


# --- every example (slow: one sandbox run each) -------------------------------------------------------------

EXPECTED = {  # file -> (optimizer, the variant label's start, or the mistake id)
    "sgd.py": ("sgd", "p -= lr g"), "momentum.py": ("momentum", "v = mu v + g"),
    "sgd_minchar.py": ("sgd", "p -= lr g"),
    "momentum_keras.py": ("momentum", "v = mu v + g"), "momentum_ema.py": ("momentum", "v = mu v + (1 - mu) g"),
    "nesterov.py": ("nesterov", "v = mu v + g"), "adagrad_minchar.py": ("adagrad", "G_0 = 0, eps = 1e-08 inside"),
    "adagrad_torch.py": ("adagrad", "G_0 = 0, eps = 1e-10 outside"), "rmsprop.py": ("rmsprop", "decay 0.9, eps = 1e-08 in"),
    "rmsprop_eps_outside.py": ("rmsprop", "decay 0.9, eps = 1e-08 outside"),
    "rmsprop_decay_099.py": ("rmsprop", "decay 0.99"), "adam.py": ("adam", "Algorithm 1, eps = 1e-08"),
    "adam_minchar.py": ("adam", "Algorithm 1, eps = 1e-08"), "adamw.py": ("adamw", "decoupled weight decay 0.01"),
    "rmsprop_rebinds_cache.py": ("rmsprop", "rmsprop-state-not-carried"),
    "momentum_state_not_carried.py": ("momentum", "momentum-state-not-carried"),
    "adagrad_no_gradient.py": ("adagrad", "adagrad-gradient-factor-missing"),
    "rmsprop_eps_on_gradient.py": ("rmsprop", "rmsprop-eps-added-to-gradient"),
    "adagrad_accumulates_g.py": ("adagrad", "adagrad-accumulates-g"),
    "momentum_sign.py": ("momentum", "momentum-sign-flipped"),
    "adam_no_bias_correction.py": ("adam", "adam-no-bias-correction"),
    "adam_t_from_0.py": ("adam", "adam-bias-correction-t-from-0"), "adam_betas_swapped.py": ("adam", None),
}


def test_every_example_is_listed():
    assert {f.name for f in OPTIM.glob("*.py")} == set(EXPECTED)


@pytest.mark.slow
@pytest.mark.parametrize("filename", list(EXPECTED))
def test_each_example_gets_its_verdict(filename):
    name, expected = EXPECTED[filename]
    r = oc.check_optimizer(OPTIM / filename, name)
    if expected in OPTIMIZER_MISTAKES:
        assert r.verdict == "wrong" and [m["id"] for m in r.mistakes] == [expected]
    elif expected is None:
        assert r.verdict == "wrong" and r.mistakes == [] and r.unrecognised
    else:
        assert r.verdict == "correct", r.diagnosis
        assert next(c for c in r.conventions if c["id"] == "variant")["label"].startswith(expected)


def test_diagnose_refuses_a_trajectory_of_the_wrong_shape():
    student = {k: v[:-1] for k, v in _run(optim.sgd).items()}
    with pytest.raises(ValueError, match=r"student: expected 'Wxh' of shape \(12, 5, 7\) \(steps, \*shape\), got "
                                         r"\(11, 5, 7\)"):
        _diagnose("sgd", student)
