"""The class's grades in the formats teachers use: a CSV, a Markdown summary, Gradescope's results.json.

    class_csv(task, records)        one row per student: score, verdict, mistakes, then each check's points
    summary_markdown(task, records) the class at a glance: scores, their distribution, the named
                                    mistakes commonest first, why submissions could not run, each check's
                                    pass rate, and every student
    gradescope_results(task, record) Gradescope's results.json for one submission (its autograder
                                    specification: score, execution_time, output, tests[{name, score,
                                    max_score, status, output, visibility}], ...)
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from pathlib import Path

from gradlab.grade import store
from gradlab.grade.tasks import Task
from gradlab.student.report import ERROR_TITLES

BAR = "█"


def write_class(out: str | Path, task: Task, records: list[dict]) -> dict[str, Path]:
    """Write OUT/grades.csv and OUT/summary.md (atomically); return their paths."""
    out = Path(out)
    return {"csv": store.atomic_write(out / "grades.csv", class_csv(task, records)),
            "summary": store.atomic_write(out / "summary.md", summary_markdown(task, records))}


def class_csv(task: Task, records: list[dict]) -> str:
    """One row per student; the check columns hold the points each check earned."""
    checks = [c["name"] for c in records[0]["checks"]] if records else []
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["student", "score", "max_score", "verdict", "mistakes", "error", *checks, "submission"])
    for r in records:
        by_name = {c["name"]: c["score"] for c in r["checks"]}
        writer.writerow([r["student"], _pts(r["score"]), _pts(r["max_score"]), r["verdict"],
                         ";".join(m["id"] for m in r["mistakes"]), (r.get("error") or {}).get("kind", ""),
                         *(_pts(by_name.get(name, 0.0)) for name in checks), r["submission"]])
    return buf.getvalue()


def mistake_counts(records: list[dict]) -> list[tuple[str, str, int]]:
    """(id, title, number of students) for every named mistake, commonest first."""
    counts = Counter(m["id"] for r in records for m in {m["id"]: m for m in r["mistakes"]}.values())
    titles = {m["id"]: m.get("title") or "" for r in records for m in r["mistakes"]}
    return [(k, titles[k], n) for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def error_counts(records: list[dict]) -> list[tuple[str, int]]:
    """(error kind, number of students) for submissions that could not run, commonest first."""
    counts = Counter((r.get("error") or {}).get("kind", "?") for r in records if r["verdict"] == "error")
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def summary_markdown(task: Task, records: list[dict]) -> str:
    """The class summary (see the module docstring)."""
    lines = [f"# Grades: {task.name}", "", f"{task.title}. Maximum score {_pts(task.max_score)}.", ""]
    if not records:
        return "\n".join([*lines, "No submissions were found.", ""])
    scores = [r["score"] for r in records]
    verdicts = Counter(r["verdict"] for r in records)
    lines += [(f"{len(records)} submissions: {verdicts['correct']} correct, {verdicts['wrong']} wrong, "
              f"{verdicts['error']} could not run. Score: mean {statistics.fmean(scores):.2f}, median "
              f"{_pts(statistics.median(scores))}, min {_pts(min(scores))}, max {_pts(max(scores))}."), ""]
    lines += _distribution(scores, task.max_score)
    lines += _mistakes_section(records)
    lines += _errors_section(records)
    lines += _checks_section(records)
    lines += ["## Students", "", "| student | score | verdict | named mistakes, or why it could not run |",
              "|---|---:|---|---|"]
    for r in records:
        why = ", ".join(m["id"] for m in r["mistakes"]) or _error_text(r)
        lines.append(f"| {_cell(r['student'])} | {_pts(r['score'])} | {r['verdict']} | {_cell(why)} |")
    return "\n".join(lines) + "\n"


def _distribution(scores: list[float], max_score: float) -> list[str]:
    lines = ["## Distribution of scores", "", "| score | students | |", "|---:|---:|---|"]
    counts = Counter(scores)
    if len(counts) <= 15:
        rows = [(_pts(s), n) for s, n in sorted(counts.items(), reverse=True)]
    else:  # ten bins of equal width, the top one closed
        width = max_score / 10 or 1.0
        bins = Counter(min(int(s // width), 9) for s in scores)
        rows = [(f"{_pts(b * width)}–{_pts((b + 1) * width)}", bins[b]) for b in range(9, -1, -1) if bins[b]]
    lines += [f"| {label} | {n} | {BAR * n} |" for label, n in rows]
    return [*lines, ""]


def _mistakes_section(records: list[dict]) -> list[str]:
    counts = mistake_counts(records)
    lines = ["## Named mistakes, commonest first", ""]
    if not counts:
        return [*lines, "The checker named no mistake in any submission.", ""]
    lines += ["| mistake | students | what it is |", "|---|---:|---|"]
    lines += [f"| {k} | {n} | {_cell(title)} |" for k, title, n in counts]
    return [*lines, ""]


def _errors_section(records: list[dict]) -> list[str]:
    counts = error_counts(records)
    if not counts:
        return []
    lines = ["## Could not run, by reason", "", "| reason | students |", "|---|---:|"]
    lines += [f"| {ERROR_TITLES.get(kind, kind)} (`{kind}`) | {n} |" for kind, n in counts]
    return [*lines, ""]


def _checks_section(records: list[dict]) -> list[str]:
    lines = ["## Checks", "", "| check | points | students who passed |", "|---|---:|---:|"]
    for i, c in enumerate(records[0]["checks"]):
        passed = sum(1 for r in records if i < len(r["checks"]) and r["checks"][i]["ok"])
        lines.append(f"| {_cell(c['title'])} | {_pts(c['max_score'])} | {passed} of {len(records)} |")
    return [*lines, ""]


def _error_text(record: dict) -> str:
    e = record.get("error") or {}
    if not e:
        return ""
    return f"{ERROR_TITLES.get(e.get('kind'), e.get('kind'))}: {e.get('message', '')}"[:160]


def gradescope_results(task: Task, record: dict) -> dict:
    """Gradescope's results.json for one graded submission (the top-level score includes penalties)."""
    tests = [{"name": c["title"], "score": c["score"], "max_score": c["max_score"],
              "status": "passed" if c["ok"] else "failed", "output": c["output"], "visibility": task.visibility}
             for c in record["checks"]]
    tests += [{"name": f"penalty: {p['id']}", "score": -p["points"], "max_score": 0, "status": "failed",
               "output": "points taken off for this named mistake (the task's [penalties])",
               "visibility": task.visibility} for p in record["penalties"]]
    return {"score": record["score"], "execution_time": round(record["seconds"], 3),
            "output": student_feedback(record), "visibility": task.visibility, "stdout_visibility": "hidden",
            "tests": tests, "extra_data": {"verdict": record["verdict"], "task": task.name,
                                           "mistakes": [m["id"] for m in record["mistakes"]],
                                           "gradlab": record["fingerprint"]["gradlab"]}}


def student_feedback(record: dict) -> str:
    """A few lines for the student: the verdict, the diagnosis, each named mistake, or why it could not run."""
    lines = [f"gradlab: {record['verdict']}, {_pts(record['score'])} of {_pts(record['max_score'])} points."]
    if record["verdict"] == "error":
        lines.append("Could not run: " + _error_text(record))
    elif record.get("diagnosis"):
        lines.append(f"Diagnosis: {record['diagnosis']}.")
    for m in (record.get("result") or {}).get("mistakes") or []:
        lines.append(f"Recognised: {m.get('title')}: {m.get('explanation', '')}")
    return "\n".join(lines)


def _pts(x: float) -> str:
    return f"{x:g}"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
