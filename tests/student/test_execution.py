"""execution.py: how a failed call or run becomes an error verdict, and the sandbox summary over runs."""

import pytest

from gradlab.student import execution
from gradlab.student.notebook import Source
from gradlab.student.result import CheckResult
from gradlab.student.sandbox import SandboxRun

SOURCE = Source("hw.py", "def f():\n    pass\n")


def run(failure=None, meta=None, cpu=0.5, wall=1.0, rss=100, stdout="", missing=()):
    return SandboxRun(None, meta if meta is not None else {"import": {"ok": True}}, failure, stdout, "", 0, cpu,
                      wall, rss, missing_layers=list(missing))


@pytest.mark.parametrize(("err", "kind"), [
    (None, "bad_result"),
    ({"traceback": "INTERNAL boom"}, "internal"),
    ({"kind": "bad_return", "message": "returned 3 values"}, "bad_return"),
    ({"type": "MemoryError", "traceback": ""}, "memory"),
    ({"type": "ValueError", "message": "shapes", "traceback": ""}, "exception"),
])
def test_a_failed_call_is_named_by_its_kind(err, kind):
    assert execution.call_error("lossFun", 2, err, SOURCE)[0] == kind


def test_an_exception_names_the_function_and_the_error():
    _, message, _ = execution.call_error("lossFun", 2, {"type": "ValueError", "message": "shapes"}, SOURCE)
    assert message == "lossFun raised ValueError: shapes"


@pytest.mark.parametrize(("r", "kind"), [
    (run(missing=("seccomp",)), "sandbox"),
    (run(failure=("timeout", "ran past the 30 s wall clock")), "timeout"),
    (run(meta={}), "bad_result"),
    (run(meta={"import": {"ok": False, "type": "ModuleNotFoundError", "message": "no torch"}}), "import"),
    (run(meta={"import": {"ok": False, "kind": "exit", "message": "exit(0)"}}), "exit"),
    (run(meta={"import": {"ok": True}, "missing": ["lossFun"]}), "missing_function"),
])
def test_a_run_that_gave_nothing_usable_stops_with_its_kind(r, kind):
    with pytest.raises(execution.Stop) as stop:
        execution.raise_failure(r, SOURCE)
    assert stop.value.args[0] == kind


def test_a_healthy_run_does_not_stop():
    execution.raise_failure(run(), SOURCE)  # no exception: the twin of the cases above


def test_the_sandbox_summary_adds_time_over_runs_and_keeps_the_peak_memory():
    summary = execution.sandbox_summary([run(cpu=0.5, wall=1.0, rss=100), run(cpu=0.25, wall=2.0, rss=300)])
    assert (summary["cpu_s"], summary["wall_s"], summary["max_rss"], summary["runs"]) == (0.75, 3.0, 300, 2)
    assert execution.sandbox_summary([]) is None


def test_an_error_result_carries_the_kind_and_the_childs_output():
    result = execution.error_result(CheckResult("hw.py", None, None, "correct"), "timeout", "too slow", runs=[run(stdout="hi")])
    assert result.verdict == "error" and result.error["kind"] == "timeout"
    assert result.output["stdout"] == "hi" and result.sandbox["runs"] == 1
