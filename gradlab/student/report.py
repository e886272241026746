"""The terminal report of a CheckResult: one line per gradient, then the evidence, then the verdict."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gradlab.student.result import CheckResult

ERROR_TITLES = {
    "syntax": "syntax error", "style": "cannot tell what to check", "missing_function": "missing function",
    "contract": "does not follow the contract", "import": "the file failed at import", "exit": "exited at import",
    "exception": "raised an exception", "bad_return": "wrong return value", "non_finite": "NaN or inf",
    "timeout": "time-out (wall clock)", "cpu_limit": "CPU time limit", "memory": "memory limit",
    "output_limit": "output limit", "result_too_large": "result too large", "bad_result": "refused result",
    "no_result": "no result", "crash": "crashed", "sandbox": "sandbox layer missing", "internal": "checker bug",
}


def _num(x, fmt: str = ".1e") -> str:
    return "-" if x is None else format(x, fmt)


def summary_line(result: CheckResult) -> str:
    """One line: the verdict and why (what the CLI prints when nothing else fits)."""
    if result.verdict == "error":
        e = result.error or {}
        return f"could not run {result.submission}: {e.get('message', '')}"
    if result.verdict == "wrong":
        bad = result.wrong_params()
        fwd = [f for f in result.forward if not f.ok]
        what = ", ".join(dict.fromkeys(p.student_name for p in bad)) or ", ".join(f.student_name for f in fwd)
        return f"{result.submission}: wrong ({what})"
    return f"{result.submission}: correct"


def render(result: CheckResult, console: Console) -> None:
    p = lambda text="", **kw: console.print(text, highlight=False, **kw)
    head = f"[bold]gradlab check[/] {escape(result.submission)}"
    if result.style:
        head += f"  [dim]style[/] {result.style}, [dim]model[/] {result.model}"
    if result.sizes:
        head += "  [dim](" + " ".join(f"{k}={v}" for k, v in result.sizes.items()) + ")[/]"
    p(head)
    if result.verdict == "error":
        e = result.error or {}
        p(f"[bold red]could not run[/] ({ERROR_TITLES.get(e.get('kind'), e.get('kind'))}): {escape(e.get('message', ''))}")
        if e.get("traceback"):
            p(escape(e["traceback"].rstrip()), style="red")
        for stream, text in (result.output or {}).items():
            if text:
                p(f"[dim]{stream} (first lines):[/]")
                p(escape("\n".join(text.splitlines()[:10])), style="dim")
    else:
        _table(result, console)
        for f in result.forward:
            if not f.ok:
                at = f"[{', '.join(map(str, f.worst_index))}]" if f.worst_index else ""
                p(f"[red]forward:[/] {f.function} returned {f.student_name}{at} = {_num(f.student_value, '.6g')}, "
                  f"gradlab {_num(f.reference_value, '.6g')} (rel err {_num(f.max_rel_err)})"
                  + (f"; first wrong at T={f.first_bad_T}" if f.first_bad_T else ""))
        for q in result.params:
            if not q.ok:
                p(f"[red]{escape(q.function)}: {escape(q.student_name)}[/]: {escape(q.evidence)}")
                if q.errors_by_T and any(e is not None for e in q.errors_by_T):
                    p("  [dim]rel err by sequence length T = 1, 2, ...:[/] "
                      + " ".join(_num(e, ".0e") for e in q.errors_by_T))
        if result.diagnosis and result.verdict == "wrong":
            p(f"[bold]diagnosis:[/] {escape(result.diagnosis)}")
        for m in result.mistakes:
            _mistake(m, p)
        for c in result.conventions:
            if c.get("id") == "clip":
                p(f"[cyan]convention:[/] {escape(c['text'])}")
        if result.smallest_failing_case:
            s = dict(result.smallest_failing_case)
            fn, names = s.pop("function", ""), s.pop("params", [])
            p("[yellow]smallest failing case:[/] " + ", ".join(f"{k}={v}" for k, v in s.items())
              + f" ({fn}: {', '.join(names)})")
    for note in result.notes:
        p(f"[yellow]note:[/] {escape(note)}")
    if result.sandbox:
        s = result.sandbox
        p(f"[dim]sandbox: tier {s['tier']}, cpu {s['cpu_s']:.2f} s, wall {s['wall_s']:.2f} s, "
          f"max rss {s['max_rss'] / 2**20:.0f} MiB"
          + (f"; missing: {', '.join(s['missing_layers'])}" if s.get("missing_layers") else "") + "[/]")
    verdict = {"correct": "[bold green]correct[/]", "wrong": "[bold red]wrong[/]",
               "error": "[bold red]could not run[/]"}[result.verdict]
    n_bad = len(result.wrong_params())
    tail = f": {n_bad} of {len(result.params)} gradients wrong" if result.verdict == "wrong" and n_bad else ""
    p(f"verdict: {verdict}{tail} (exit {result.exit_code})")


def _mistake(m: dict, p) -> None:
    """A named mistake: its name and explanation, then the hint and the equation; or the evidence."""
    if m["id"] == "unrecognised":
        p(f"[yellow]unrecognised error:[/] {escape(m['explanation'])}")
        for e in m.get("evidence", []):
            p(f"  {escape(e['param'])}{e['worst_index']} = {_num(e['student_value'], '.6g')}, gradlab "
              f"{_num(e['reference_value'], '.6g')} (rel err {_num(e['max_rel_err'])}) on {escape(e['call'])}")
        closest = m.get("closest")
        if closest:
            p(f"  [dim]closest:[/] {escape(closest['id'])} ({escape(closest['title'])}) reproduces "
              f"{', '.join(closest['reproduces'])} but not {', '.join(closest['but_not'])}")
        return
    together = f" [dim](together with {', '.join(m['together_with'])})[/]" if m.get("together_with") else ""
    p(f"[yellow]recognised:[/] {escape(m['title'])} [dim]{escape(m['id'])}[/]{together} — {escape(m['explanation'])}")
    if m.get("hint"):
        p(f"  [dim]hint:[/] {escape(m['hint'])}")
    if m.get("equation"):
        p(f"  [dim]equation:[/] {escape(m['equation'])}  [dim]({escape(m.get('link', ''))})[/]")


def _table(result: CheckResult, console: Console) -> None:
    table = Table(title_justify="left", show_edge=False, pad_edge=False)
    several = len({q.function for q in result.params}) > 1
    if several:
        table.add_column("function")
    for col, justify in (("gradient", "left"), ("gradlab", "left"), ("result", "left"), ("max rel err", "right"),
                         ("worst index", "left"), ("first bad T", "right"), ("vs your forward", "left")):
        table.add_column(col, justify=justify)
    for q in result.params:
        own = {True: "agrees", False: "[red]disagrees[/]", None: "-"}[q.vs_own_forward_ok]
        row = [escape(q.student_name), q.name, "[green]ok[/]" if q.ok else "[bold red]FAIL[/]", _num(q.max_rel_err),
               str(q.worst_index) if (q.worst_index is not None and not q.ok) else "-",
               str(q.first_bad_T) if q.first_bad_T is not None else "-", own]
        table.add_row(*([escape(q.function)] if several else []), *row)
    for f in result.forward:
        row = [escape(f.student_name), f"{f.name} (forward)", "[green]ok[/]" if f.ok else "[bold red]FAIL[/]",
               _num(f.max_rel_err), str(f.worst_index) if (f.worst_index and not f.ok) else "-",
               str(f.first_bad_T) if f.first_bad_T is not None else "-", ""]
        table.add_row(*([escape(f.function)] if several else []), *row)
    console.print(table)
