"""SymPy proofs of the identities hand-derived BPTT stands on; one runnable script per topic.

    python derivations/rnn_bias.py         one topic, a readable summary, exit 0 iff all hold
    derivations.run(["rnn_bias"])          the same results as records (what ``gradlab derive`` uses)
    derivations.render_text(results)      the summary text
    derivations.render_latex(results)     the identities as LaTeX equations, for course notes

Each script exposes ``identities() -> list[Result]`` and ``TITLE``. A ``Result`` (see ``_sym``) holds the
identity's name, script, statement (text and LaTeX), the cases checked, the simplified residual and
whether it is a true identity (expected residual 0) or a wrong formula shown to fail (expected
non-zero). ``Result.ok`` is True when the outcome is the expected one.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterable, Sequence
from types import ModuleType

from derivations._sym import IDENTITY, WRONG, Case, Result, prove, residual, show_wrong

# Lemmas first: the RNN and gate scripts use the activation and softmax results.
NAMES: tuple[str, ...] = ("softmax_ce", "activations", "output_layer", "rnn_bias", "gates")

__all__ = ["IDENTITY", "NAMES", "WRONG", "Case", "Result", "exit_code", "prove", "render_latex",
           "render_text", "residual", "run", "script_main", "show_wrong", "titles"]


def _check_names(names: Sequence[str] | None) -> tuple[str, ...]:
    """None or empty -> every script; otherwise each name must be one of NAMES."""
    if names is None:
        return NAMES
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise TypeError(f"names: expected a list of derivation names or None, got {names!r}")
    names = tuple(names)
    for name in names:
        if name not in NAMES:
            raise ValueError(f"names: unknown derivation {name!r}; expected one of {', '.join(NAMES)}")
    return names or NAMES


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"derivations.{name}")


def _title(script: str) -> str:
    return _module(script).TITLE if script in NAMES else ""


def titles() -> dict[str, str]:
    """name -> one-line title of every derivation script, in NAMES order."""
    return {name: _module(name).TITLE for name in NAMES}


def run(names: Sequence[str] | None = None) -> list[Result]:
    """Run the named scripts' proofs (all of them for None) and return every Result, in order.

    Raises ValueError for an unknown name (the message lists the valid ones).
    """
    return [r for name in _check_names(names) for r in _module(name).identities()]


def exit_code(results: Iterable[Result]) -> int:
    """0 if every identity is proved and every wrong formula fails, else 1."""
    return 0 if all(r.ok for r in results) else 1


def _grouped(results: Iterable[Result]) -> dict[str, list[Result]]:
    groups: dict[str, list[Result]] = {}
    for r in results:
        groups.setdefault(r.script, []).append(r)
    return groups


def render_text(results: Iterable[Result], titles: dict[str, str] | None = None) -> str:
    """A readable summary: per script a header, per entry its verdict, statement, cases, residual."""
    titles = titles or {}
    lines: list[str] = []
    for script, group in _grouped(results).items():
        head = f"{script}: {titles.get(script) or _title(script)}".rstrip(": ")
        lines += [head, "=" * min(100, len(head))]
        for r in group:
            lines.append(f"[{r.verdict}] {r.name}")
            lines.append(f"    {r.statement}")
            if r.ok and r.expected_zero:
                lines.append(f"    residual 0 on: {r.checked_text}" if r.checked_text else "    residual 0")
            else:
                where = f" ({r.failing_case})" if r.failing_case else ""
                lines.append(f"    residual{where}: {_residual_text(r)}")
                if r.witness is not None:
                    lines.append(f"    |residual| at a random point: {r.witness:.4g}")
        lines.append("")
    return "\n".join(lines).rstrip()


MAX_RESIDUAL_CHARS = 2000  # longer residuals are summarised by their length in reports


def _residual_text(r: Result) -> str:
    text = r.residual_text
    if len(text) <= MAX_RESIDUAL_CHARS:
        return text
    return f"{text[:MAX_RESIDUAL_CHARS]} ... ({len(text)} characters in all)"


_TEX_SPECIAL = {"\\": r"\textbackslash{}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#",
                "$": r"\$", "{": r"\{", "}": r"\}", "^": r"\^{}", "~": r"\~{}"}


def _tex_text(s: str) -> str:
    """Escape plain text for LaTeX text mode."""
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in s)


def render_latex(results: Iterable[Result], standalone: bool = False) -> str:
    """The identities as numbered LaTeX equations (amsmath), tagged with their names.

    A true identity is followed by the cases on which its residual is 0; a wrong formula by the
    words "wrong formula (shown to fail)" and its residual. ``standalone=True`` wraps the result in
    a compilable article.
    """
    out: list[str] = []
    for script, group in _grouped(results).items():
        title = f": {_tex_text(_title(script))}" if _title(script) else ""
        out.append(rf"\subsection*{{\texttt{{{_tex_text(script)}}}{title}}}")
        for r in group:
            out.append(r"\begin{equation}" + "\n  " + r.statement_latex
                       + "\n  " + rf"\tag{{\texttt{{{_tex_text(r.name)}}}}}" + "\n" + r"\end{equation}")
            if r.ok and r.expected_zero:
                on = f" for {_tex_text(r.checked_text)}" if r.checked_text else ""
                out.append(rf"Proved: the residual simplifies to $0${on}.")
            else:
                where = f" ({_tex_text(r.failing_case)})" if r.failing_case else ""
                head = rf"\textbf{{{_tex_text(r.verdict.capitalize())}}}; residual{where}"
                tex = r.residual_latex
                if len(tex) > MAX_RESIDUAL_CHARS:
                    out.append(f"{head}: too long to print ({len(tex)} characters of LaTeX).")
                else:
                    out.append(head + ":\n" + r"\begin{equation*}" + "\n  " + tex + "\n" + r"\end{equation*}")
            out.append("")
    body = "\n".join(out).rstrip() + "\n"
    if not standalone:
        return body
    return ("\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\allowdisplaybreaks\n"
            "\\begin{document}\n\\section*{Derivations checked with SymPy}\n" + body + "\\end{document}\n")


def script_main(title: str, identities: Callable[[], list[Result]]) -> int:
    """Body of ``python derivations/NAME.py``: print the summary; 0 if every true identity is
    proved and every wrong formula fails, else 1."""
    start = time.perf_counter()
    results = identities()
    print(render_text(results, titles={r.script: title for r in results}))
    bad = [r.qualname for r in results if not r.ok]
    print(f"\n{len(results) - len(bad)}/{len(results)} as expected in {time.perf_counter() - start:.1f} s"
          + (f"; FAILED: {', '.join(bad)}" if bad else ""))
    return exit_code(results)
