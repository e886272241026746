"""gradlab/grade/bundle.py: Gradescope's autograder zip, and its run_autograder run on a real submission."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from gradlab.grade.bundle import dependencies, gradescope_bundle
from gradlab.grade.tasks import load_task, tomllib

ROOT = Path(__file__).resolve().parents[2]


def test_the_zip_holds_the_two_scripts_at_its_root_the_task_and_gradlab_s_source(tmp_path):
    task = load_task("rnn-cs231n")
    path = gradescope_bundle(task, tmp_path / "ag.zip")
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        assert {"setup.sh", "run_autograder", "task.toml", "gradlab-src/pyproject.toml",
                "gradlab-src/gradlab/cli.py", "gradlab-src/gradlab/grade/tasks/rnn-cs231n.toml"} <= names
        assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111 and not modes["task.toml"] & 0o111
        assert not [n for n in names if "__pycache__" in n]
        assert load_task_text(zf.read("task.toml").decode()) == task.data
        project = tomllib.loads(zf.read("gradlab-src/pyproject.toml").decode())["project"]
    assert project["dependencies"] == dependencies() and "numpy>=1.26" in project["dependencies"]
    assert not any("torch" in d for d in project["dependencies"])  # extras stay out


def load_task_text(text: str) -> dict:
    return tomllib.loads(text)


def test_a_bad_output_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match="out: expected a path ending in .zip, got"):
        gradescope_bundle(load_task("rnn"), tmp_path / "ag.tar")


def _autograder(tmp_path, submission: Path, path_dirs: str) -> dict:
    root = tmp_path / "autograder"
    with zipfile.ZipFile(gradescope_bundle(load_task("rnn-cs231n"), tmp_path / "ag.zip")) as zf:
        zf.extractall(root / "source")
    (root / "submission").mkdir(parents=True)
    shutil.copy(submission, root / "submission" / "rnn_layers.py")
    env = {**os.environ, "GRADLAB_AUTOGRADER_ROOT": str(root), "PATH": path_dirs}
    subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, cwd=root, check=True,
                   capture_output=True, timeout=300)
    return json.loads((root / "results" / "results.json").read_text())


def test_run_autograder_grades_the_submission_into_results_json(tmp_path):
    results = _autograder(tmp_path, ROOT / "examples" / "cs231n_rnn.py", f"{Path(sys.executable).parent}:/usr/bin:/bin")
    task = load_task("rnn-cs231n")
    assert results["score"] == task.max_score and all(t["status"] == "passed" for t in results["tests"])


def test_run_autograder_still_writes_results_json_when_gradlab_is_missing(tmp_path):
    results = _autograder(tmp_path, ROOT / "examples" / "cs231n_rnn.py", "/usr/bin:/bin")
    assert results["score"] == 0 and "autograder failed" in results["output"]
