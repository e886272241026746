"""The command line: each command parses its arguments, calls one library function, and renders.

``main(argv) -> int`` is the one place that turns errors into a message and an exit code:
0 success, 1 a check failed, 2 bad arguments or could not run (one line on stderr, no traceback).
"""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gradlab.models.sizes import Sizes

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="gradlab: hand-written BPTT, verified against JAX autodiff, finite differences and PyTorch.",
    rich_markup_mode=None,
)
out = Console()
if not out.is_terminal:  # piped or captured: wide enough for the verify table, never wrapped mid-row
    out.width = max(out.width, 132)
err = Console(stderr=True, soft_wrap=True)  # error messages stay on one line


class CheckFailed(Exception):
    """A check ran and found a failure: exit code 1."""


class CouldNotRun(Exception):
    """The thing to check could not be run (a submission that crashed, timed out, ...): exit code 2."""


@app.command(epilog="Examples:  gradlab verify | gradlab verify --models rnn --sizes 8,2,5,7,3 --dtype float32 "
                    "| gradlab verify --json > report.json")
def verify(
    models: str = typer.Option("all", help="Comma-separated model names (see `gradlab info`), or all."),
    oracles: str = typer.Option("all", help="Comma-separated: jax-reverse, jax-forward, central, complex-step, "
                                           "rtrl, forward-bias; or all."),
    sizes: str = typer.Option("5,3,4,6,7", help="T,B,D,H,V: steps, batch, inputs, hidden units, outputs."),
    dtype: str = typer.Option("float64", help="dtype of the hand-written model: float64 or float32."),
    seed: int = typer.Option(0, help="Seed of the random problem (parameters, states, inputs, targets)."),
    max_probe: int = typer.Option(256, help="Per-element oracles probe at most this many entries per parameter."),
    as_json: bool = typer.Option(False, "--json", help="Print the full report as JSON instead of a table."),
):
    """Check every model's hand-written gradients against every oracle (exit 1 if any fails)."""
    from gradlab import verify as v
    from gradlab.models.registry import MODELS

    model_names = v.parse_names(models, MODELS, "models")
    oracle_names = v.parse_names(oracles, v.ORACLE_ORDER, "oracles")
    parsed = Sizes.parse(sizes)
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype: expected float32 or float64, got {dtype!r}")
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=err, transient=True, disable=as_json) as bar:
        task = bar.add_task("verifying", total=v.count_steps(model_names, oracle_names))

        def advance(model: str, oracle: str) -> None:
            bar.update(task, advance=1, description=f"{model} vs {oracle}")

        result = v.verify(model_names, oracle_names, parsed, dtype, seed, max_probe, progress=advance)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        _print_verify(result)
    if not result.ok:
        raise CheckFailed(f"{len(result.failures())} check(s) failed")


def _print_verify(result) -> None:
    from gradlab.models.registry import get

    s = result.sizes
    for m in result.models:
        oracles = list(m.reports)
        table = Table(title=f"{m.model}: {get(m.model).title}\nT={s.T} B={s.B} D={s.D} H={s.H} V={s.V}, "
                            f"{result.dtype}, seed {result.seed}, loss {m.loss:.6g}",
                      title_justify="left")
        table.add_column("parameter")
        for o in oracles:
            table.add_column(f"{o}\nrtol {m.reports[o][0].rtol:.0e}", justify="right")
        names = list(dict.fromkeys(r.name for rs in m.reports.values() for r in rs))
        for name in names:
            cells = []
            for o in oracles:
                r = next((r for r in m.reports[o] if r.name == name), None)
                cells.append("-" if r is None else
                             f"[green]{r.max_rel_err:.1e} ok[/]" if r.ok else f"[bold red]{r.max_rel_err:.1e} FAIL[/]")
            table.add_row(name, *cells)
        out.print(table)
        for oracle, why in m.skipped.items():
            out.print(f"  {oracle}: not run for {m.model}: {why}", markup=False, highlight=False)
    checks = sum(len(rs) for m in result.models for rs in m.reports.values())
    failures = result.failures()
    for r in failures:
        out.print(f"[red]{r.text()}[/]")
    out.print(f"{checks - len(failures)} of {checks} checks passed "
              f"(max relative error, floored; see gradlab/tolerances.py).")


@app.command(epilog="Examples:  gradlab check examples/minchar_rnn.py | gradlab check hw3.ipynb --style cs231n "
                    "--model lstm | gradlab check submission.py --json > result.json | gradlab check "
                    "examples/optim/rmsprop.py --optimizer rmsprop")
def check(
    file: str = typer.Argument(..., help="The submission: a .py file or a .ipynb notebook (never imported here)."),
    style: str = typer.Option(None, "--style", help="minchar, cs231n or gradlab (default: told from the file)."),
    model: str = typer.Option(None, "--model", help="rnn, lstm, gru or gru-cho, where the style leaves it open."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON (DESIGN.md's result shape)."),
    isolation: str = typer.Option("default", "--isolation", help="default: run at the best tier this machine "
                                  "gives and name what is missing; strict: refuse below tier B (exit 2)."),
    tier: str = typer.Option(None, "--tier", hidden=True, help="Force a lower isolation tier (tests)."),
    optimizer: str = typer.Option(None, "--optimizer", help="Check an update rule instead: sgd, momentum, "
                                  "nesterov, adagrad, rmsprop, adam or adamw (style gradlab: step(params, grads, "
                                  "state, lr); minchar: update(params, grads, mems, learning_rate) in place)."),
):
    """Run a student's gradient code in a sandbox; say which gradient is wrong, where, and from which T.

    With --optimizer NAME: run the student's update rule on 12 fixed gradient steps, name the convention it
    follows or the catalogued mistake it makes, and the step from which it diverges.

    Exit 0 correct, 1 wrong, 2 could not run (syntax error, exception, time-out, memory, bad return, NaN).
    """
    from gradlab.student import check as check_submission
    from gradlab.student.report import render, summary_line

    if optimizer is not None:
        if model is not None:
            raise ValueError(f"--model: does not apply with --optimizer (got --model {model})")
        from gradlab.student.optimizer_check import check_optimizer
        from gradlab.student.optimizer_report import render, summary_line

        result = check_optimizer(file, optimizer, style=style, isolation=isolation, tier=tier)
    else:
        result = check_submission(file, style=style, model=model, isolation=isolation, tier=tier)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        render(result, out)
    if result.exit_code == 1:
        raise CheckFailed(summary_line(result))
    if result.exit_code == 2:
        raise CouldNotRun(summary_line(result))


@app.command(epilog="Examples:  gradlab bench --quick | gradlab bench --models lstm --sizes medium --dtypes float32 "
                    "--quick | gradlab bench --threads 1,2   (the full run: ~30 min, writes benchmarks/results/)")
def bench(
    quick: bool = typer.Option(False, "--quick", help="Teaching + medium size, float64, few repeats, in this "
                                                     "process, nothing written unless --out (< 2 min)."),
    models: str = typer.Option(None, help="Comma-separated: rnn, lstm, gru, gru-cho (default rnn,lstm,gru)."),
    sizes: str = typer.Option(None, help="Comma-separated: teaching, medium, large (default: all; quick: the "
                                         "first two)."),
    dtypes: str = typer.Option(None, help="Comma-separated: float64, float32 (default both; quick: float64)."),
    impls: str = typer.Option(None, help="Comma-separated: numpy, jax-jit, torch-fused, torch-cell (default all)."),
    repeats: int = typer.Option(None, help="Timed repeats per row (default: 30 teaching, 10 medium, 5 large)."),
    threads: str = typer.Option("1", help="Threads for every library; the full run takes several, e.g. 1,2."),
    out_dir: str = typer.Option(None, "--out", help="Where bptt.md, bptt.json and the plots go (full run "
                                                    "default: benchmarks/results)."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON instead of tables."),
):
    """Time gradlab's NumPy BPTT against JAX jit and PyTorch (fused and cell loop); exit 1 if any disagrees."""
    from gradlab import bench as b
    from gradlab.bench.results import rich_tables

    counts = [_count(n, "threads") for n in threads.split(",")]
    options = {"models": models, "sizes": sizes, "dtypes": dtypes, "impls": impls, "repeats": repeats}
    with Progress(TextColumn("{task.description}"), TimeElapsedColumn(), console=err, transient=True,
                  disable=as_json or not err.is_terminal) as bar:
        task = bar.add_task("benchmark", total=None)

        def say(message: str) -> None:
            bar.update(task, description=message)

        if quick:
            result = b.run(quick=True, threads=counts[0], out_dir=out_dir, progress=say, **options)
        else:
            result = b.run_full(out_dir=out_dir or b.RESULTS_DIR, threads=counts, progress=say, **options)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        for table in rich_tables(result):
            out.print(table)
        for note in result.notes:
            out.print(f"note: {note}", markup=False, highlight=False)
        if out_dir or not quick:
            out.print(f"written: {out_dir or b.RESULTS_DIR}/bptt.md, bptt.json, bptt.png", markup=False)
    bad = [a for a in result.agreement if not a.ok]
    if bad:
        raise CheckFailed(f"{len(bad)} implementation(s) disagree with gradlab's gradients (see the notes)")


def _count(text: str, name: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError(f"{name}: expected positive integers separated by commas, got {text!r}")
    return int(text)


@app.command(epilog="Examples:  gradlab doctor | gradlab doctor --json | GRADLAB_FORCE_TIER=C gradlab doctor")
def doctor(
    isolation: str = typer.Option("default", "--isolation", help="strict: exit 2 when runs here would be below "
                                                                  "tier B."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
):
    """How student code is isolated on this machine: the tier, each mechanism (tried, not guessed), the fixes."""
    from gradlab.student import isolation as iso

    rep = iso.report()
    if as_json:
        print(json.dumps(rep.to_dict(), indent=2))
    else:
        out.print(f"isolation tier {rep.tier}" + (f" (forced by {iso.FORCE_ENV}={rep.forced})" if rep.forced else "")
                  + f" of A-D on this machine; best available: {iso.probe().best}", markup=False, highlight=False)
        table = Table(title_justify="left")
        for column in ("mechanism", "status", "detail", "fix"):
            table.add_column(column)
        for m in rep.mechanisms:
            table.add_row(m.name, "[green]ok[/]" if m.ok else "[yellow]missing[/]", m.detail, m.fix or "-")
        out.print(table)
        for line in rep.not_guaranteed or ["nothing SANDBOX.md lists for this tier is missing"]:
            out.print(f"not guaranteed: {line}" if rep.not_guaranteed else line, markup=False, highlight=False)
    iso.select(None, isolation)  # strict below tier B: IsolationError, exit 2


@app.command(epilog="Examples:  gradlab derive | gradlab derive rnn_bias | gradlab derive rnn_bias --latex")
def derive(
    names: list[str] = typer.Argument(None, help="Derivation scripts to run (default: all)."),  # noqa: B008
    latex: bool = typer.Option(False, "--latex", help="Emit the identities as LaTeX for course notes."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
):
    """Prove the identities the derivations stand on (SymPy); print 'proved' or the residual."""
    import derivations

    results = derivations.run(list(names) if names else None)
    if as_json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    elif latex:
        print(derivations.render_latex(results))
    else:
        print(derivations.render_text(results))
    if derivations.exit_code(results):
        raise CheckFailed("an identity did not hold")


@app.command(epilog="Examples:  gradlab info lstm --input 65 --hidden 100 --output 65 | gradlab info gru --json")
def info(
    model: str = typer.Argument(..., help="rnn, lstm, gru (reset after) or gru-cho (reset before)."),
    input: int = typer.Option(65, "--input", "-D", help="D, input features (65: min-char-rnn's vocabulary)."),
    hidden: int = typer.Option(100, "--hidden", "-H", help="H, hidden units."),
    output: int = typer.Option(65, "--output", "-V", help="V, output classes."),
    as_json: bool = typer.Option(False, "--json", help="Print the shapes and counts as JSON."),
):
    """Parameter shapes and counts per convention: gradlab's, PyTorch's (two biases) and Keras's."""
    from gradlab.info import conventions, layer_count

    convs = conventions(model, input, hidden, output)
    if as_json:
        print(json.dumps([{"convention": c.name, "layer": c.layer, "gate_order": c.gate_order,
                           "shapes": {k: list(v) for k, v in c.shapes.items()}, "layer_count": layer_count(c),
                           "count": c.count, "formula": c.formula, "note": c.note} for c in convs], indent=2))
        return
    table = Table(title=f"{model}: D={input} H={hidden} V={output}", title_justify="left")
    for column in ("convention", "parameter", "shape", "count"):
        table.add_column(column, justify="right" if column == "count" else "left")
    for c in convs:
        for i, (name, shape) in enumerate(c.shapes.items()):
            table.add_row(f"{c.name} ({c.layer})" if i == 0 else "", name, str(shape), f"{_prod(shape):,}")
        table.add_row("", f"[bold]recurrent layer = {c.formula}[/]", f"gates {c.gate_order}",
                      f"[bold]{layer_count(c):,}[/]")
        table.add_row("", "[bold]total, with the output layer[/]", "", f"[bold]{c.count:,}[/]",
                      end_section=True)
    out.print(table)
    for c in convs:
        if c.note:
            out.print(f"{c.name}: {c.note}")


@app.command("mistakes", epilog="Examples:  gradlab mistakes | gradlab mistakes lstm | gradlab mistakes optimisers "
                                "| gradlab mistakes rnn --json")
def mistakes_command(
    model: str = typer.Argument(None, help="rnn, lstm, gru, gru-cho or optimisers (default: the whole catalogue)."),
    as_json: bool = typer.Option(False, "--json", help="Print the catalogue as JSON."),
):
    """The named mistakes that `gradlab check` recognises: each with its explanation and the equation it breaks."""
    from gradlab.mistakes import listing

    rows = listing(model)
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    for group in dict.fromkeys(r["model"] for r in rows):
        members = [r for r in rows if r["model"] == group]
        out.print(f"{group} ({len(members)}; equations: {members[0]['link']})", markup=False, highlight=False,
                  soft_wrap=True)
        for r in members:
            what = f" [{r['optimizer']}]" if r.get("optimizer") else ""
            out.print(f"  {r['id']}{what}: {r['title']}. {r['explanation']}\n      breaks: {r['equation']}",
                      markup=False, highlight=False, soft_wrap=True)


@app.command(epilog="Examples:  gradlab grade hw3/ --task rnn-minchar | gradlab grade hw3/ --task my_task.toml "
                    "--jobs 2 --out grades/ | gradlab grade --list-tasks | gradlab grade /autograder/submission "
                    "--task task.toml --format gradescope --out /autograder/results")
def grade(
    folder: str = typer.Argument(None, metavar="DIR", help="The class: one .py, .ipynb or folder per student "
                                                           "(with --format gradescope: ONE submission folder)."),
    task: str = typer.Option(None, "--task", help="A built-in task (see --list-tasks) or a task .toml/.py file."),
    jobs: int = typer.Option(None, "--jobs", help="Submissions checked at once (default: the number of cores)."),
    force: bool = typer.Option(False, "--force", help="Re-grade submissions whose stored grade is up to date."),
    fmt: str = typer.Option("json", "--format", help="json: per-student JSON, grades.csv and summary.md; "
                                                     "gradescope: results.json for one submission."),
    out_dir: str = typer.Option(None, "--out", help="Where grades go (default: DIR-grades beside DIR; "
                                                    "gradescope: the current folder)."),
    list_tasks: bool = typer.Option(False, "--list-tasks", help="List the built-in tasks and exit."),
):
    """Grade a whole class in parallel, sandboxed; resumable; CSV, Markdown summary and Gradescope formats."""
    from gradlab.grade import commands

    if list_tasks:
        commands.list_tasks(out)
        return
    if folder is None or task is None:
        raise ValueError(f"grade: expected DIR and --task TASK, got {'no DIR' if folder is None else 'no --task'}")
    failure = commands.grade(folder, task, jobs=jobs, force=force, fmt=fmt, out_dir=out_dir, out=out, err=err)
    if failure:
        raise CouldNotRun(failure)


@app.command("gradescope-bundle", epilog="Examples:  gradlab gradescope-bundle --task rnn-minchar | gradlab "
                                         "gradescope-bundle --task my_task.toml --out autograder.zip")
def gradescope_bundle(
    task: str = typer.Option(..., "--task", help="A built-in task (see gradlab grade --list-tasks) or a task file."),
    out_file: str = typer.Option(None, "--out", help="The zip to write (default: gradescope-TASK.zip)."),
):
    """Write Gradescope's autograder zip (setup.sh installs gradlab; run_autograder runs gradlab grade)."""
    from gradlab.grade import commands

    commands.bundle(task, out_file, out)


@app.command(epilog="Examples:  gradlab train --text \"Amazon is river.\" --model rnn --optimizer rmsprop --hidden 30 "
                    "--steps 5000 | gradlab train --book hamlet --model lstm --hidden 128 --seq-length 50 "
                    "--batch 16 --steps 3000 | gradlab train --file book.txt --freeze b_h,b_y --json")
def train(
    text: str = typer.Option(None, "--text", help="The text to learn (default: \"Amazon is river.\")."),
    file: str = typer.Option(None, "--file", help="A UTF-8 text file to learn."),
    book: str = typer.Option(None, "--book", help="A book shipped with gradlab: hamlet (174 KB, public domain)."),
    model: str = typer.Option("rnn", help="rnn, lstm, gru or gru-cho."),
    optimizer: str = typer.Option("adam", help="sgd, momentum, nesterov, adagrad, rmsprop, adam or adamw."),
    lr: float = typer.Option(None, "--lr", help="Learning rate (default: a tuned one per optimiser)."),
    hidden: int = typer.Option(30, help="H, hidden units."),
    seq_length: int = typer.Option(None, help="T of each truncated-BPTT window (default: the whole text up to "
                                              "200 characters, else 25)."),
    batch: int = typer.Option(1, help="B, parallel streams of the text."),
    steps: int = typer.Option(1000, help="Updates."),
    clip: float = typer.Option(5.0, help="Elementwise gradient clipping (min-char-rnn's 5); 0: none."),
    freeze: str = typer.Option(None, help="Parameters held at zero, e.g. b_h,b_y."),
    seed: int = typer.Option(0, help="Seed of the initial parameters."),
    sample_every: int = typer.Option(500, help="Print a sample every this many steps (0: never)."),
    sample_length: int = typer.Option(None, help="Characters per sample (default: the text's length up to 200)."),
    temperature: float = typer.Option(0.5, help="Temperature of the samples printed while training."),
    out_dir: str = typer.Option("gradlab-run", "--out", help="Where checkpoint.npz and loss.png go."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary instead of samples."),
):
    """Train a char-level model with the hand-written BPTT; print samples; save a checkpoint and the loss curve."""
    from gradlab.train import commands
    from gradlab.train.loop import TrainConfig

    chosen = commands.choose_text(text, file, book)
    window = seq_length or (len(chosen) - 1 if len(chosen) <= commands.WHOLE_TEXT_UP_TO else 25)
    config = TrainConfig(model=model, optimizer=optimizer, learning_rate=lr, hidden=hidden, seq_length=window,
                         batch_size=batch, steps=steps, clip=clip or None, frozen=commands.parse_frozen(freeze),
                         seed=seed)
    commands.run_train(chosen, config, out_dir=out_dir, sample_every=sample_every, sample_length=sample_length,
                       temperature=temperature, as_json=as_json, out=out, err=err)


@app.command(epilog="Examples:  gradlab sample gradlab-run/checkpoint.npz --prime \"The\" --temperature 0.5 "
                    "| gradlab sample model.npz --length 500 --temperature 0 (greedy)")
def sample(
    checkpoint: str = typer.Argument(..., help="A checkpoint written by gradlab train (.npz)."),
    prime: str = typer.Option(None, help="Text read before generating (default: the training text's first "
                                         "character)."),
    length: int = typer.Option(200, help="Characters to generate."),
    temperature: float = typer.Option(1.0, help="Softmax temperature; 0 is greedy (argmax)."),
    seed: int = typer.Option(0, help="Seed of the draws."),
):
    """Generate text from a checkpoint, primed with a string, at a temperature."""
    from gradlab.train import commands

    commands.run_sample(checkpoint, prime, length, temperature, seed, out)


@app.command(epilog="Examples:  gradlab experiment optimizers | gradlab experiment bias --seeds 5 --out results/ "
                    "| gradlab experiment seq-length --task palindrome | gradlab experiment cells --quick --json")
def experiment(
    name: str = typer.Argument(..., help="bias, optimizers, hidden-size, cells or seq-length."),
    seeds: int = typer.Option(3, help="Seeds per setting (seeds 0 .. n-1)."),
    quick: bool = typer.Option(False, "--quick", help="A reduced run (few steps, tiny models): seconds."),
    texts: list[str] = typer.Option(None, "--text", help="Sentence(s) to learn, repeatable (default: "  # noqa: B008
                                    "\"Amazon is river.\" and the \"had had had\" sentence)."),
    task: str = typer.Option("copy", help="seq-length only: copy or palindrome."),
    out_dir: str = typer.Option("gradlab-experiments", "--out", help="Where NAME.md, NAME.json, NAME.png go."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON instead of a table."),
):
    """Run a course experiment over several seeds: a table (mean ± sd) and a plot."""
    from gradlab.train import commands

    commands.run_experiment(name, commands.options(seeds, quick, texts, task), out_dir=out_dir, as_json=as_json,
                            out=out, err=err)


def _prod(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 a check failed, 2 bad arguments or could not run)."""
    try:
        code = app(args=argv if argv is not None else sys.argv[1:], prog_name="gradlab", standalone_mode=False)
        return code if isinstance(code, int) else 0  # typer returns, not raises, an Exit's code here
    except CheckFailed as exc:
        err.print(f"gradlab: {exc}", highlight=False, markup=False)
        return 1
    except CouldNotRun as exc:
        err.print(f"gradlab: {exc}", highlight=False, markup=False)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        err.print("gradlab: aborted", highlight=False)
        return 2
    except typer.TyperException as exc:  # usage errors: unknown option, bad value, missing argument
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `gradlab`: show the help, as a help request
            print(exc.format_message())
            return 0
        err.print(f"gradlab: {exc.format_message()} (see gradlab --help)", highlight=False, markup=False)
        return 2
    except (ValueError, TypeError, OSError) as exc:
        err.print(f"gradlab: error: {exc}", highlight=False, markup=False)
        return 2


def entry() -> None:
    sys.exit(main())
