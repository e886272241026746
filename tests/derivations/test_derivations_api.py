"""derivations/__init__.py: the registry, run(names), and the text and LaTeX reports."""

import json

import pytest

import derivations
from derivations import NAMES, exit_code, prove, render_latex, render_text, run, script_main
from derivations._sym import real


@pytest.fixture(scope="module")
def results():
    return run(["activations"])


def test_names_lists_every_script_and_each_has_a_title_and_identities():
    assert NAMES == ("softmax_ce", "activations", "output_layer", "rnn_bias", "gates")
    titles = derivations.titles()
    assert list(titles) == list(NAMES) and all(titles.values())


def test_run_returns_only_the_named_scripts_results_with_unique_names(results):
    assert results and {r.script for r in results} == {"activations"}
    assert len({r.qualname for r in results}) == len(results)
    assert exit_code(results) == 0


def test_unknown_name_raises_value_error_naming_the_argument_and_the_valid_names():
    with pytest.raises(ValueError, match=r"names: unknown derivation 'rnn'; expected one of softmax_ce, "):
        run(["rnn"])


def test_a_bare_string_is_rejected_as_names():
    with pytest.raises(TypeError, match="names"):
        run("activations")


def test_every_result_serialises_to_json_with_the_fields_a_cli_needs(results):
    rows = json.loads(json.dumps([r.to_dict() for r in results]))
    for row in rows:
        assert {"name", "script", "kind", "statement", "proved", "ok", "residual", "verdict"} <= set(row)
    assert {row["kind"] for row in rows} == {"identity", "wrong formula"}
    assert all(row["residual"] == "0" for row in rows if row["kind"] == "identity")


def test_text_report_labels_wrong_formulas_and_shows_their_residuals(results):
    text = render_text(results)
    assert text.startswith("activations: ")
    assert "[proved] tanh_derivative" in text
    assert "[wrong formula (shown to fail)] tanh_derivative_from_preactivation" in text
    assert "residual (scalar z): -z**2 + tanh(z)**2" in text


def test_latex_report_has_one_tagged_equation_per_entry_and_balanced_braces(results):
    tex = render_latex(results)
    assert tex.count(r"\begin{equation}") == len(results) == tex.count(r"\tag{")
    assert r"\textbf{Wrong formula (shown to fail)}" in tex
    assert tex.count("{") == tex.count("}")
    doc = render_latex(results, standalone=True)
    assert doc.startswith(r"\documentclass{article}") and doc.rstrip().endswith(r"\end{document}")


def _false_identity():
    z = real("z")
    return prove("false", z**2, z, script="activations", statement="z^2 = z", latex="z^2 = z")


def test_a_failing_identity_is_reported_and_turns_the_exit_code_to_1(results):
    bad = _false_identity()
    assert not bad.proved and not bad.ok and bad.verdict == "NOT PROVED"
    assert exit_code([*results, bad]) == 1
    assert "[NOT PROVED] false" in render_text([bad]) and "z*(z - 1)" in render_text([bad])


def test_script_main_exits_1_on_a_failing_identity_and_0_on_expected_failures(results, capsys):
    assert script_main("t", lambda: [*results, _false_identity()]) == 1
    assert "FAILED: activations.false" in capsys.readouterr().out
    assert script_main("t", lambda: results) == 0


def test_a_very_long_residual_is_summarised_by_its_length():
    xs = [real(f"x{i}") for i in range(400)]
    r = prove("long", sum(xs), 0, script="test", statement="", latex="")
    assert "characters in all" in render_text([r])
    assert "too long to print" in render_latex([r])
