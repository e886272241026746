"""README.md and .ci/run stay true to each other: CI runs exactly README's test command."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _commands():
    blocks = re.findall(r"```bash\n(.*?)\n```", (ROOT / "README.md").read_text(), flags=re.DOTALL)
    return [b.strip() for b in blocks[:2]]


def test_readme_opens_with_the_run_and_the_test_commands():
    run, test = _commands()
    assert "python3 -m venv .venv" in run and run.endswith("gradlab verify")
    assert "python3 -m venv .venv" in test and test.endswith("pytest") and "[torch,dev]" in test


def test_ci_runs_exactly_the_readme_test_command():
    _, test = _commands()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test in ci_lines


def test_the_torch_extra_is_pinned_to_the_local_wheel():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'torch = ["torch==2.13.0"]' in pyproject


@pytest.mark.parametrize("doc", ["README.md", "benchmarks/README.md"])
def test_the_benchmark_table_shown_is_that_of_the_committed_results(doc):
    from gradlab.bench import BenchResult, summary_markdown

    result = BenchResult.from_dict(json.loads((ROOT / "benchmarks/results/bptt.json").read_text()))
    text = (ROOT / doc).read_text()
    shown = text.split("<!-- bench-summary:start -->\n")[1].split("\n<!-- bench-summary:end -->")[0]
    assert shown == summary_markdown(result)


def test_the_mistakes_listing_shown_is_the_commands_real_output(capsys):
    from gradlab import cli

    assert cli.main(["mistakes"]) == 0
    real = capsys.readouterr().out
    text = (ROOT / "README.md").read_text()
    start = text.index("$ gradlab mistakes\n") + len("$ gradlab mistakes\n")
    assert text[start:text.index("```", start)] == real


@pytest.mark.parametrize("name", ["bias", "hidden-size", "cells", "seq-length"])
def test_the_experiment_tables_shown_are_the_committed_ones(name):
    lines = (ROOT / "docs" / "experiments" / f"{name}.md").read_text().splitlines()
    table = "\n".join(line for line in lines if line.startswith("|"))
    assert table and table in (ROOT / "README.md").read_text()
