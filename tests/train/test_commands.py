"""gradlab train, sample and experiment through cli.main (gradlab/train/commands.py does the work)."""

import json

import pytest

from gradlab import cli


def test_train_prints_samples_and_writes_the_checkpoint_and_the_plot(tmp_path, capsys):
    out_dir = tmp_path / "run"
    assert cli.main(["train", "--text", "Amazon is river.", "--steps", "120", "--lr", "0.03", "--hidden", "16",
                     "--sample-every", "60", "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert "step      1" in out and "step     60" in out and "step    120" in out
    assert "greedy from 'A': 'Amazon is river.'; reproduces the text: yes (after" in out
    assert (out_dir / "checkpoint.npz").exists() and (out_dir / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert cli.main(["sample", str(out_dir / "checkpoint.npz"), "--prime", "Am", "--temperature", "0",
                     "--length", "14"]) == 0
    assert capsys.readouterr().out.strip() == "Amazon is river."


def test_train_json_summarises_the_run(tmp_path, capsys):
    assert cli.main(["train", "--text", "abcabd", "--model", "gru", "--steps", "5", "--freeze", "b_y", "--json",
                     "--out", str(tmp_path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["config"]["model"] == "gru" and summary["config"]["frozen"] == ["b_y"]
    assert summary["config"]["seq_length"] == 5 and summary["vocab_size"] == 4
    assert set(summary) >= {"final_loss", "reproduced", "reproduced_at", "greedy_sample", "checkpoint"}


def test_experiment_prints_the_table_and_writes_the_plot(tmp_path, capsys):
    assert cli.main(["experiment", "optimizers", "--quick", "--seeds", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "steps to reproduce" in out and "adam" in out and "sgd" in out and "learning rate chosen" in out
    assert (tmp_path / "optimizers.png").read_bytes()[:4] == b"\x89PNG"
    assert "| text | optimizer | lr |" in (tmp_path / "optimizers.md").read_text()
    assert json.loads((tmp_path / "optimizers.json").read_text())["name"] == "optimizers"


def test_experiment_json(tmp_path, capsys):
    assert cli.main(["experiment", "seq-length", "--quick", "--seeds", "1", "--task", "palindrome", "--json",
                     "--out", str(tmp_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["setup"]["task"] == "palindrome" and len(data["rows"]) == 4


@pytest.mark.parametrize("argv, message", [
    (["train", "--text", "ab", "--book", "hamlet"], "text: expected one of --text, --file, --book, got --text and"),
    (["train", "--text", "ab", "--model", "elman"], "model: expected one of rnn, lstm, gru, gru-cho, got 'elman'"),
    (["train", "--text", "ab", "--freeze", "W"], "frozen: expected parameter names of rnn"),
    (["train", "--text", "a"], "text: expected at least 2 characters"),
    (["train", "--file", "/nonexistent/book.txt"], "No such file or directory"),
    (["sample", "/nonexistent/model.npz"], "No such file or directory"),
    (["experiment", "speed"], "experiment: expected one of bias, optimizers"),
    (["experiment", "bias", "--seeds", "0"], "seeds: expected a positive integer, got 0"),
])
def test_bad_arguments_print_one_line_and_exit_2(argv, message, capsys, tmp_path):
    assert cli.main([*argv, *(["--out", str(tmp_path)] if argv[0] != "sample" else [])]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_sampling_at_a_negative_temperature_exits_2(tmp_path, capsys):
    assert cli.main(["train", "--text", "abab", "--steps", "2", "--json", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert cli.main(["sample", str(tmp_path / "checkpoint.npz"), "--temperature", "-1"]) == 2
    assert "temperature: expected a finite number >= 0, got -1.0" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "sample", "experiment"])
def test_help_shows_examples(command, capsys):
    assert cli.main([command, "--help"]) == 0
    assert "Examples:" in capsys.readouterr().out


def test_the_readme_shows_the_committed_optimizers_table():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    readme = root.joinpath("README.md").read_text()
    rows = [line for line in root.joinpath("docs/experiments/optimizers.md").read_text().splitlines()
            if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == 10 and (root / "docs/experiments/optimizers.png").exists()
    shown = [line for line in readme.splitlines() if line.startswith("│ ")]
    for row in rows:
        cells = [c.strip() for c in row.strip("| ").split(" | ")]
        assert any(all(c in line for c in cells[1:]) and cells[0][:10] in line for line in shown), row
