"""The contracts a submission can follow, and telling which one a file follows without running it.

Three styles (README "Checking student code" shows a minimal example of each):

    minchar   module-level Wxh (H, V), Whh (H, H), Why (V, H), bh (H, 1), by (V, 1), column vectors, and
              lossFun(inputs, targets, hprev) -> loss, dWxh, dWhh, dWhy, dbh, dby, h_last
              (inputs/targets: lists of ints; hprev (H, 1)); the model is the RNN
    cs231n    rnn_step_forward/backward, rnn_forward/backward, lstm_step_forward/backward,
              lstm_forward/backward; row vectors (Wx (D, H), Wh (H, H), b (H,)), batch-major
              x (N, T, D), h0 (N, H); the LSTM stacks its gates i, f, o, g
    gradlab   loss_and_grads(params, xs, targets, h0) -> loss, grads for a named model (rnn, lstm,
              gru, gru-cho) with gradlab's names and shapes (DESIGN.md)

``detect`` reads only the syntax tree (``ast``), parsed in the parent: the file is never imported
here. It looks at the names defined at module level (functions, assignments, imports), including
inside top-level ``if``/``try``/``with`` blocks, but not inside functions or classes.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from gradlab.models.registry import MODELS

STYLES = ("minchar", "cs231n", "gradlab")
MINCHAR_ARRAYS = ("Wxh", "Whh", "Why", "bh", "by")
MINCHAR_FUNCTION = "lossFun"
GRADLAB_FUNCTION = "loss_and_grads"
CS231N = {  # model -> unit -> (forward, backward)
    "rnn": {"step": ("rnn_step_forward", "rnn_step_backward"), "seq": ("rnn_forward", "rnn_backward")},
    "lstm": {"step": ("lstm_step_forward", "lstm_step_backward"), "seq": ("lstm_forward", "lstm_backward")},
}
CS231N_NAMES = {name for units in CS231N.values() for pair in units.values() for name in pair}


class ContractError(Exception):
    """The file does not follow a contract we can check (exit code 2, with this message)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Definitions:
    functions: frozenset[str]  # def / async def / lambda assignment at module level
    names: frozenset[str]  # every name bound at module level (functions included)
    strings: dict[str, str]  # NAME = "literal" at module level (MODEL = "lstm")


def definitions(tree: ast.Module) -> Definitions:
    functions, names, strings = set(), set(), {}

    def targets(node) -> list[str]:
        if isinstance(node, ast.Name):
            return [node.id]
        if isinstance(node, (ast.Tuple, ast.List)):
            return [n for elt in node.elts for n in targets(elt)]
        if isinstance(node, ast.Starred):
            return targets(node.value)
        return []

    def visit(body) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions.add(node.name)
                names.add(node.name)
            elif isinstance(node, ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                tgts = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in tgts:
                    for n in targets(t):
                        names.add(n)
                        if isinstance(node.value, ast.Lambda):
                            functions.add(n)
                        elif isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                            strings[n] = node.value.value
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    bound = alias.asname or alias.name.split(".")[0]
                    names.add(bound)
                    if isinstance(node, ast.ImportFrom):
                        functions.add(bound)  # from x import f: may be a function
            elif isinstance(node, ast.If):
                if not _is_main_guard(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
                visit(node.body)
                visit(node.orelse)
                visit(node.finalbody)
                for handler in node.handlers:
                    visit(handler.body)
            elif isinstance(node, (ast.With, ast.For, ast.While)):
                visit(node.body)

    visit(tree.body)
    return Definitions(frozenset(functions), frozenset(names), strings)


def _is_main_guard(test) -> bool:
    """``if __name__ == "__main__":`` — the checker imports the file, so that block never runs."""
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators))


def _looks_like(defs: Definitions) -> dict[str, bool]:
    return {
        "minchar": MINCHAR_FUNCTION in defs.functions,
        "cs231n": bool(CS231N_NAMES & defs.functions),
        "gradlab": GRADLAB_FUNCTION in defs.functions,
    }


def detect(defs: Definitions, style: str | None = None, model: str | None = None) -> tuple[str, str, tuple[str, ...]]:
    """(style, model, cs231n units or ()) for a file, from its definitions and the optional overrides.

    Raises ValueError for an unknown ``style``/``model`` name (a bad argument) and ContractError when
    the file does not follow the style, or when the style or model cannot be told apart.
    """
    if style is not None and style not in STYLES:
        raise ValueError(f"style: expected one of {', '.join(STYLES)}, got {style!r}")
    if model is not None and model not in MODELS:
        raise ValueError(f"model: expected one of {', '.join(MODELS)}, got {model!r}")
    if style is None:
        found = [s for s, yes in _looks_like(defs).items() if yes]
        if not found:
            raise ContractError("style", (
                "could not tell the style: expected `lossFun` with module-level Wxh, Whh, Why, bh, by (minchar), "
                "rnn_forward/rnn_backward or lstm_forward/lstm_backward (cs231n), or loss_and_grads (gradlab); "
                "pass --style to say which"))
        if len(found) > 1:
            raise ContractError("style", f"the file fits several styles ({', '.join(found)}): pass --style")
        style = found[0]
    if style == "minchar":
        return "minchar", _minchar_model(defs, model), ()
    if style == "cs231n":
        return ("cs231n", *_cs231n_model(defs, model))
    return "gradlab", _gradlab_model(defs, model), ()


def _minchar_model(defs: Definitions, model: str | None) -> str:
    if model not in (None, "rnn"):
        raise ContractError("style", f"the minchar style is the vanilla RNN; --model {model} does not apply")
    missing = [n for n in (MINCHAR_FUNCTION, *MINCHAR_ARRAYS) if n not in defs.names]
    if missing:
        raise ContractError("missing_function", (
            f"minchar style: the file does not define {', '.join(missing)} at module level (expected "
            "Wxh, Whh, Why, bh, by as arrays and lossFun(inputs, targets, hprev))"))
    return "rnn"


def _cs231n_model(defs: Definitions, model: str | None) -> tuple[str, tuple[str, ...]]:
    if model not in (None, "rnn", "lstm"):
        raise ContractError("style", f"the cs231n style covers rnn and lstm; --model {model} does not apply")
    present = {m: [u for u, pair in units.items() if set(pair) <= defs.functions] for m, units in CS231N.items()}
    if model is None:
        candidates = [m for m, units in present.items() if units]
        if len(candidates) > 1:
            raise ContractError("style", "the file defines both rnn_* and lstm_* functions: pass --model rnn or "
                                         "--model lstm")
        if not candidates:
            partial = sorted(CS231N_NAMES & defs.functions)
            raise ContractError("missing_function", (
                f"cs231n style: found {', '.join(partial) or 'no cs231n function'} but no complete pair; expected "
                "rnn_forward with rnn_backward, rnn_step_forward with rnn_step_backward, or the lstm_ pairs"))
        model = candidates[0]
    if not present[model]:
        pairs = " or ".join(f"{f} with {b}" for f, b in CS231N[model].values())
        raise ContractError("missing_function", f"cs231n style, {model}: expected {pairs}")
    return model, tuple(present[model])


def _gradlab_model(defs: Definitions, model: str | None) -> str:
    if GRADLAB_FUNCTION not in defs.functions:
        raise ContractError("missing_function", "gradlab style: the file does not define "
                                                "loss_and_grads(params, xs, targets, h0)")
    declared = defs.strings.get("MODEL")
    if model is None and declared is not None:
        if declared not in MODELS:
            raise ContractError("style", f"MODEL = {declared!r} in the file: expected one of {', '.join(MODELS)}")
        model = declared
    if model is None:
        raise ContractError("style", "gradlab style: which model? pass --model rnn|lstm|gru|gru-cho, or set "
                                     "MODEL = \"lstm\" (say) in the file")
    return model
