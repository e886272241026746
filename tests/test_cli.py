"""gradlab/cli.py: exit codes 0/1/2, the table, the JSON, one-line errors without tracebacks."""

import json
import subprocess
import sys

import pytest

from gradlab import cli, mistakes
from gradlab.models import registry
from gradlab.oracles import torch_models

PARAMS = ["W_xh", "W_hh", "W_hy", "b_h", "b_y", "h0"]


def test_verify_prints_the_table_and_exits_0(capsys):
    assert cli.main(["verify", "--models", "rnn"]) == 0
    out = capsys.readouterr().out
    assert "jax-reverse" in out and "complex-step" in out and "rtrl" in out
    checks = 29 + (6 if torch_models.available() else 0)  # 6 parameters x 4 oracles + rtrl 4 + bias 1 (+ torch 6)
    assert f"{checks} of {checks} checks passed" in out


def test_verify_json_lists_every_rnn_parameter_under_every_oracle(capsys):
    assert cli.main(["verify", "--json", "--models", "rnn", "--seed", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    oracles = report["models"]["rnn"]["oracles"]
    for oracle in ("jax-reverse", "jax-forward", "central", "complex-step"):
        assert list(oracles[oracle]) == PARAMS
        assert all(oracles[oracle][p]["ok"] for p in PARAMS)
    assert list(oracles["rtrl"]) == ["W_xh", "W_hh", "b_h", "h0"]
    if torch_models.available():
        assert list(oracles["torch"]) == PARAMS
    assert report["ok"] is True and report["seed"] == 3


@pytest.mark.parametrize("argv, message", [
    (["verify", "--sizes", "1,2,3"], "sizes: expected five positive integers T,B,D,H,V"),
    (["verify", "--models", "elman"], "models: expected names from"),
    (["verify", "--dtype", "int8"], "dtype: expected float32 or float64, got 'int8'"),
    (["verify", "--bogus"], "No such option: --bogus"),
    (["verify", "--seed", "x"], "--seed"),
    (["derive", "nonsense"], "nonsense"),
])
def test_bad_arguments_print_one_line_and_exit_2(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_failing_check_exits_1(monkeypatch, capsys):
    rnn = registry.MODELS["rnn"]
    wrong = mistakes.MISTAKES["rnn-tanh-prime-of-preactivation"].backward

    def loss_and_grads(params, xs, targets, h0):
        from gradlab.models.losses import softmax_cross_entropy

        logits, cache = rnn.forward(params, xs, h0)
        loss, dlogits = softmax_cross_entropy(logits, targets)
        return loss, wrong(params, cache, dlogits)

    monkeypatch.setattr(rnn.module, "loss_and_grads", loss_and_grads)
    assert cli.main(["verify", "--models", "rnn", "--oracles", "complex-step"]) == 1
    captured = capsys.readouterr()
    assert "FAIL" in captured.out and "W_hh[" in captured.out and "check(s) failed" in captured.err


def test_the_installed_command_and_python_dash_m_run():
    done = subprocess.run([sys.executable, "-m", "gradlab", "verify", "--models", "rnn", "--oracles", "rtrl",
                           "--json"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True
    done = subprocess.run([sys.executable, "-m", "gradlab", "verify", "--sizes", "0,1,1,1,1"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_help_shows_examples(capsys):
    assert cli.main(["verify", "--help"]) == 0
    assert "Examples:" in capsys.readouterr().out


def test_derive_prints_proved_and_the_wrong_formulas_residuals(capsys):
    assert cli.main(["derive", "activations"]) == 0
    out = capsys.readouterr().out
    assert "[proved] tanh_derivative" in out and "wrong formula (shown to fail)" in out


def test_derive_latex_emits_equations(capsys):
    assert cli.main(["derive", "output_layer", "--latex"]) == 0
    assert "\\begin{equation}" in capsys.readouterr().out


@pytest.mark.parametrize("submission, code, says", [
    ("examples/gradlab_rnn.py", 0, "correct"),
    ("examples/minchar_whh_not_transposed.py", 1, "wrong (dWxh, dWhh, dbh)"),
    ("examples/unrunnable/raises.py", 2, "could not run"),
])
def test_check_exit_codes_follow_the_verdict(submission, code, says, capsys):
    assert cli.main(["check", submission]) == code
    captured = capsys.readouterr()
    assert says in captured.out + captured.err


def test_a_typer_exit_code_is_returned_not_swallowed():
    @cli.app.command("exit-three", hidden=True)
    def _exit_three():
        raise __import__("typer").Exit(3)

    try:
        assert cli.main(["exit-three"]) == 3
    finally:
        cli.app.registered_commands.pop()
