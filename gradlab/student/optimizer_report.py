"""The terminal report of ``gradlab check FILE --optimizer NAME``: one line per parameter, then the evidence."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gradlab.student.optimizer_check import OptimizerCheckResult
from gradlab.student.report import ERROR_TITLES, _num


def summary_line(result: OptimizerCheckResult) -> str:
    """One line: the verdict and why (what the CLI prints on stderr for exit codes 1 and 2)."""
    if result.verdict == "error":
        return f"could not run {result.submission}: {(result.error or {}).get('message', '')}"
    if result.verdict == "wrong":
        what = (f"{result.mistakes[0]['title']}, from step {result.mistakes[0]['from_step']}" if result.mistakes
                else f"unrecognised error from step {result.first_bad_step}")
        return f"{result.submission}: wrong {result.optimizer} ({what})"
    return f"{result.submission}: correct {result.optimizer}"


def render(result: OptimizerCheckResult, console: Console) -> None:
    p = lambda text="", **kw: console.print(text, highlight=False, **kw)
    head = f"[bold]gradlab check[/] {escape(result.submission)}  [dim]optimizer[/] {result.optimizer}"
    if result.style:
        head += f", [dim]style[/] {result.style}"
    p(head + f"  [dim]({result.steps} steps of fixed gradients, lr {result.learning_rate:g})[/]")
    if result.verdict == "error":
        e = result.error or {}
        p(f"[bold red]could not run[/] ({ERROR_TITLES.get(e.get('kind'), e.get('kind'))}): "
          f"{escape(e.get('message', ''))}")
        if e.get("traceback"):
            p(escape(e["traceback"].rstrip()), style="red")
    else:
        table = Table(show_edge=False, pad_edge=False)
        for col, justify in (("parameter", "left"), ("result", "left"), ("max rel err", "right"),
                             ("first bad step", "right"), ("index there", "left")):
            table.add_column(col, justify=justify)
        for q in result.params:
            table.add_row(q.name, "[green]ok[/]" if q.ok else "[bold red]FAIL[/]", _num(q.max_rel_err),
                          "-" if q.first_bad_T is None else str(q.first_bad_T),
                          "-" if q.worst_index is None else str(q.worst_index))
        console.print(table)
        for c in result.conventions:
            if c.get("id") == "variant":
                p(f"[cyan]convention:[/] {escape(c['text'])}")
        bad = [q for q in result.params if not q.ok]
        if bad:
            p("[dim]max rel err after step 1, 2, ...:[/] " + " ".join(_num(e, ".0e") for e in bad[0].errors_by_T))
        for m in result.mistakes:
            p(f"[yellow]recognised:[/] {escape(m['title'])} (from step {m['from_step']}) — {escape(m['explanation'])}")
            p(f"  [dim]equation:[/] {escape(m['equation'])}; [dim]hint:[/] {escape(m['hint'])}")
        if result.diagnosis:
            p(f"[bold]diagnosis:[/] {escape(result.diagnosis)}")
    for note in result.notes:
        p(f"[yellow]note:[/] {escape(note)}")
    if result.sandbox:
        s = result.sandbox
        p(f"[dim]sandbox: tier {s['tier']}, cpu {s['cpu_s']:.2f} s, wall {s['wall_s']:.2f} s, "
          f"max rss {s['max_rss'] / 2**20:.0f} MiB[/]")
    verdict = {"correct": "[bold green]correct[/]", "wrong": "[bold red]wrong[/]",
               "error": "[bold red]could not run[/]"}[result.verdict]
    p(f"verdict: {verdict} (exit {result.exit_code})")
