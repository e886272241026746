"""Running a plan in the sandbox and turning what went wrong into a CheckResult error, shared by the
gradient checker (checker.py) and the optimiser checker (optimizer_check.py).

    run_plan      the plan's calls in ONE sandboxed child -> (run, status, answers), or Stop
    Stop          the submission could not be run: (kind, message, traceback)
    error_result  a CheckResult with verdict "error", the sandbox summary and the child's output
"""

from __future__ import annotations

from gradlab.student import frames, sandbox
from gradlab.student.plan import Plan
from gradlab.student.result import CheckResult
from gradlab.student.sandbox import Limits, SandboxRun

IMPORT_HINT = ("the checker imports your file in an empty directory, without input files: keep data loading "
               "and training under `if __name__ == \"__main__\":`")


class Stop(Exception):
    """The submission could not be run: (kind, message, traceback)."""


def run_plan(source, plan: Plan, functions, limits: Limits, runs: list[SandboxRun]):
    """Run ``plan``'s calls of ``functions`` in the sandbox; return (run, status, answers), or raise Stop."""
    request = plan.request(functions, 0.6 * limits.cpu_s, 0.5 * limits.wall_s)
    run = sandbox.run(source.text, request, plan.expected(), limits)
    runs.append(run)
    raise_failure(run, source)
    try:
        status, answers = plan.answers(run.arrays)
    except frames.FrameError as exc:
        raise Stop("bad_result", f"the result message was refused: {exc}", "") from None
    return run, status, answers


def call_error(label: str, status: int, err: dict | None, source) -> tuple[str, str, str]:
    if err is None:
        return ("bad_result", f"{label} gave no answer (status {status}) and no error report", "")
    tb = source.relabel(err.get("traceback", ""))
    if tb.startswith("INTERNAL "):
        return ("internal", (f"gradlab's checker failed while calling {label} (a bug in gradlab, not in the "
                             "submission: please report it)"), tb[len("INTERNAL "):])
    if err.get("kind") == "bad_return":
        return ("bad_return", err.get("message", "wrong return value"), "")
    if err.get("type") == "MemoryError":
        return ("memory", f"{label} ran out of memory (MemoryError: the address-space limit)", tb)
    return ("exception", f"{label} raised {err.get('type')}: {err.get('message')}", tb)


def raise_failure(run: SandboxRun, source) -> None:
    """Stop when the run produced nothing usable: a sandbox limit, a bad frame, or an import failure."""
    if run.missing_layers:
        raise Stop("sandbox", "isolation layers the tier expects were not in place: "
                               + ", ".join(run.missing_layers), "")
    if run.failure is not None:
        kind, message = run.failure
        if kind in ("timeout", "cpu_limit"):
            message += f"; if the file trains or reads data at import, {IMPORT_HINT}"
        raise Stop(kind, message, "")
    imp = run.meta.get("import")
    if not isinstance(imp, dict):
        raise Stop("bad_result", "the child's report has no import section", "")
    if not imp.get("ok"):
        tb = source.relabel(str(imp.get("traceback", "")))
        if imp.get("kind") == "exit":
            raise Stop("exit", f"the file ended the program at import ({imp.get('message')}): a submission "
                                "must define its functions, not exit; " + IMPORT_HINT, tb)
        if imp.get("type") == "MemoryError":
            raise Stop("memory", "MemoryError at import: the file allocates more than the address-space limit "
                                  "allows", tb)
        hint = f"; {IMPORT_HINT}" if imp.get("type") in ("FileNotFoundError", "ModuleNotFoundError") else ""
        raise Stop("import", f"importing the file raised {imp.get('type')}: {imp.get('message')}{hint}", tb)
    if run.meta.get("missing"):
        raise Stop("missing_function", f"after importing the file, {', '.join(run.meta['missing'])} is not "
                                        "defined (or not callable)", "")


def sandbox_summary(runs: list[SandboxRun]) -> dict | None:
    if not runs:
        return None
    d = runs[-1].sandbox_dict()
    d["cpu_s"] = round(sum(r.cpu_s for r in runs), 3)
    d["wall_s"] = round(sum(r.wall_s for r in runs), 3)
    d["max_rss"] = max(r.max_rss for r in runs)
    d["runs"] = len(runs)
    return d


def error_result(result: CheckResult, kind: str, message: str, traceback: str = "", runs=(), source=None) -> CheckResult:
    result.verdict = "error"
    result.error = {"kind": kind, "message": message, "traceback": traceback}
    result.sandbox = sandbox_summary(list(runs))
    if runs and (runs[-1].stdout or runs[-1].stderr):
        result.output = {"stdout": runs[-1].stdout[:2000], "stderr": runs[-1].stderr[:2000]}
    return result
