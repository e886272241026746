"""gradlab/bench: the FLOP count by hand, the agreement check catching a planted mistake, a tiny quick run,
the renderings, and bad arguments. Nothing here asserts a timing."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from gradlab import bench, mistakes
from gradlab.bench import Row
from gradlab.models.losses import softmax_cross_entropy
from gradlab.models.registry import get
from gradlab.models.sizes import Sizes
from gradlab.oracles import jax_models  # noqa: F401  (JAX imported first: the runner then leaves XLA_FLAGS alone)

TINY = Sizes(T=2, B=3, D=4, H=5, V=6)  # all different, so a transposed shape cannot hide


# --- the FLOP count --------------------------------------------------------------------------------

@pytest.mark.parametrize("model, G, total", [("rnn", 1, 2460), ("lstm", 4, 6600), ("gru", 3, 5220)])
def test_the_gemm_flop_count_equals_a_hand_count_of_every_product(model, G, total):
    T, B, D, H, V = TINY
    N = T * B
    by_hand = (2 * N * D * G * H  # x W_x^T, every t at once
               + T * 2 * B * H * G * H  # h_{t-1} W_h^T, once per step
               + 2 * N * H * V  # logits
               + 2 * V * N * H  # dW_hy
               + 2 * N * V * H  # e = dy W_hy
               + T * 2 * B * G * H * H  # da_t W_h, once per step
               + 2 * G * H * N * D  # dW_x
               + 2 * G * H * N * H)  # dW_h
    assert by_hand == total
    assert bench.gemm_flops(model, TINY) == total == 2 * N * (G * H * (2 * D + 3 * H) + 3 * H * V)
    assert [g.count for g in bench.gemms(model, TINY)] == [1, T, 1, 1, 1, T, 1, 1]


@pytest.mark.parametrize("model", ["rnn", "lstm"])
def test_the_limit_step_runs_every_product_its_count_of_times(model, monkeypatch):
    """gemm_step, whose median is the GEMM-bound limit: exactly gemms()'s FLOPs, in the dtype asked for."""
    done = []
    real_dot = np.dot

    def counting_dot(A, B, out):
        done.append((A.shape[0], A.shape[1], B.shape[1], out.dtype))
        return real_dot(A, B, out=out)

    step = bench.gemm_step(model, TINY, "float32")
    monkeypatch.setattr(np, "dot", counting_dot)
    step()
    assert sum(2 * m * k * n for m, k, n, _ in done) == bench.gemm_flops(model, TINY)
    assert len(done) == sum(g.count for g in bench.gemms(model, TINY))
    assert {dtype for *_, dtype in done} == {np.dtype("float32")}


# --- the agreement check ---------------------------------------------------------------------------

def _reference(model, dtype="float64"):
    theta, xs, ys = get(model).random_problem(TINY, seed=1, dtype=dtype)
    loss, grads = get(model).grads({k: v.astype(np.float64) for k, v in theta.items()}, xs.astype(np.float64), ys)
    return (theta, xs, ys), (float(loss), grads)


def _mutated(mistake_id, theta, xs, ys):
    """(loss, grads) with a catalogued mistake's backward in place of the reference's."""
    model = get(mistakes.MISTAKES[mistake_id].model)
    params = model.params(theta)
    logits, cache = model.forward(params, xs, model.state(theta))
    loss, dlogits = softmax_cross_entropy(logits, ys)
    grads = mistakes.MISTAKES[mistake_id].backward(params, cache, dlogits)
    return float(loss), {k: np.asarray(v, np.float64) for k, v in grads.items()}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mistake_id", ["rnn-recurrent-term-dropped", "lstm-dc-not-carried", "gru-z-swapped"])
def test_the_agreement_check_catches_a_mutated_implementation(mistake_id, dtype):
    model = mistakes.MISTAKES[mistake_id].model
    problem, reference = _reference(model, dtype)
    right = bench.numpy_impl(model, *problem)
    assert bench.check_agreement("numpy", model, "tiny", dtype, reference, right.fetch(right.step())).ok
    wrong = bench.check_agreement("numpy", model, "tiny", dtype, reference, _mutated(mistake_id, *problem))
    assert not wrong.ok and wrong.failures and wrong.max_rel_err > wrong.rtol


def test_the_agreement_check_names_a_wrong_loss():
    _, (loss, grads) = _reference("rnn")
    agreement = bench.check_agreement("jax-jit", "rnn", "tiny", "float64", (loss, grads), (loss * 1.01, grads))
    assert not agreement.ok and agreement.failures[0].startswith("loss:")


# --- a tiny run ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_run():
    peers = [i for i in ("jax-jit", "torch-cell", "torch-fused") if not bench.skip_reason(i, "rnn")]
    return bench.run(quick=True, models="rnn,gru", sizes={"tiny": TINY}, impls=["numpy", *peers], repeats=2,
                     warmup=1)


def test_the_quick_runner_on_a_tiny_size_returns_a_checked_row_per_model_and_implementation(tiny_run):
    impls = [i for i in bench.IMPLS if not bench.skip_reason(i, "rnn")]
    assert [(r.model, r.impl) for r in tiny_run.rows if r.model == "rnn"] == [("rnn", i) for i in impls]
    assert all(a.ok for a in tiny_run.agreement), [a.failures for a in tiny_run.agreement if not a.ok]
    for r in tiny_run.rows:
        assert (r.size, r.dtype, r.repeats, r.threads, r.sizes) == ("tiny", "float64", 2, 1, TINY._asdict())
        assert 0 < r.min_ms <= r.q1_ms <= r.median_ms <= r.q3_ms <= r.max_ms
        assert r.gemm_gflop == bench.gemm_flops(r.model, TINY) / 1e9
        assert r.gflop_s > 0 and r.limit_ms > 0 and r.limit_fraction > 0 and r.peak_fraction > 0
        assert r.agrees is True and r.max_rel_err <= 1e-11
        assert (r.ratio is None) == (len(impls) == 1)
        assert (r.compile_s is not None) == (r.impl == "jax-jit")
    assert tiny_run.machine["threads"] == 1 and tiny_run.machine["numpy"] == np.__version__
    assert {g["dtype"] for g in tiny_run.gemm_rates} == {"float64"} and not tiny_run.memory and not tiny_run.scaling


def test_the_result_renders_as_markdown_and_survives_a_json_round_trip(tiny_run, tmp_path):
    text = tiny_run.to_markdown()
    assert "### tiny (T=2, B=3, D=4, H=5, V=6)" in text and "| rnn | float64 | **numpy** |" in text
    assert "agree with gradlab's float64 BPTT" in text and tiny_run.machine["cpu"] in text
    data = json.loads(tiny_run.to_json())
    assert {"rows", "machine", "gemm_rates", "agreement", "targets", "notes"} <= set(data)
    again = bench.BenchResult.from_dict(data)
    assert again.rows == tiny_run.rows and again.agreement == tiny_run.agreement
    written = bench.write(tiny_run, tmp_path)
    assert [p.name for p in written] == ["bptt.md", "bptt.json", "bptt.png"]
    assert (tmp_path / "bptt.png").read_bytes()[:4] == b"\x89PNG"
    assert len(bench.rich_tables(tiny_run)) == 1


def test_a_result_records_the_commit_and_the_command_that_made_it(tiny_run):
    """README quotes the committed run "with the command that made it": the result carries both."""
    code = tiny_run.machine["code"]
    assert len(code["commit"]) == 40 and isinstance(code["dirty"], bool)  # the tests run from a git checkout
    text = tiny_run.to_markdown()
    assert f"gradlab at commit {code['commit'][:12]}" in text and f"`{tiny_run.machine['command']}`" in text
    older = bench.BenchResult.from_dict({**json.loads(tiny_run.to_json()),
                                         "machine": {k: v for k, v in tiny_run.machine.items()
                                                     if k not in ("code", "command")}})
    assert "code and command" not in older.to_markdown()  # results written before these fields still render


def test_the_command_reads_as_typed_with_the_blas_variables_in_front(monkeypatch):
    from gradlab.bench.timing import command_line
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Sandybridge")
    monkeypatch.delenv("OPENBLAS_L2_SIZE", raising=False)
    assert command_line(["/venv/bin/gradlab", "bench", "--threads", "1,2"]) == (
        "OPENBLAS_CORETYPE=Sandybridge gradlab bench --threads 1,2")
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    assert command_line(["benchmarks/bptt.py", "--out", "a b"]).endswith("benchmarks/bptt.py --out 'a b'")


def _row(model, size, dtype, impl, median, ratio=None, limit_fraction=0.5):
    return Row(model, size, dtype, impl, TINY._asdict(), 1, 3, median, median, median, median, median, 1.0, 1.0,
               limit_fraction * median, limit_fraction, 0.5, ratio, "torch-fused", True, 0.0)


def test_the_targets_are_judged_on_the_numpy_rows_only():
    rows = [_row("lstm", "medium", "float64", "numpy", 90.0, ratio=0.9),
            _row("lstm", "medium", "float64", "torch-fused", 100.0, ratio=1.0),
            _row("lstm", "large", "float32", "numpy", 130.0, ratio=1.3, limit_fraction=0.75),
            _row("gru", "teaching", "float64", "numpy", 1.2, ratio=1.2)]
    result = bench.BenchResult(rows, {})
    got = {(t.target.split(" ")[0] + t.target.split(" ")[2], t.model, t.size, t.dtype): t.met
           for t in bench.targets(result)}
    assert got == {("ratio1.0", "lstm", "medium", "float64"): True, ("ratio1.25", "lstm", "large", "float32"): False,
                   (">=of", "lstm", "large", "float32"): True, ("ratio1.25", "gru", "teaching", "float64"): True}


def test_the_floor_keeps_t_and_b_and_leaves_no_arithmetic():
    assert bench.floor_sizes(Sizes(T=25, B=1, D=65, H=100, V=65)) == Sizes(T=25, B=1, D=2, H=2, V=2)


def test_the_numpy_rows_carry_their_dispatch_floor_and_the_markdown_judges_it(tiny_run):
    for r in tiny_run.rows:
        assert (r.floor_ms is not None, r.floor_limit_ms is not None) == (r.impl == "numpy",) * 2
        if r.impl == "numpy":
            assert 0 < r.floor_limit_ms and 0 < r.floor_ms
    text = tiny_run.to_markdown()
    assert "## The dispatch floor (NumPy)" in text and "| tiny | rnn | float64 |" in text


def test_the_floor_is_never_timed_among_the_implementations(monkeypatch):
    """A gradlab call at another size asks the workspace for other memory: between two medium or large NumPy
    calls it would make the second allocate its kept memory afresh (a run that interleaved them read the large
    float64 GRU 17% slower). So the floor's steps are timed in repeats of their own."""
    groups = []
    real = bench.time_interleaved

    def recording(steps, *args, **kwargs):
        groups.append(set(steps))
        return real(steps, *args, **kwargs)

    monkeypatch.setattr(bench, "time_interleaved", recording)
    bench.run(quick=True, models="rnn", sizes={"tiny": TINY}, impls=["numpy"], repeats=1, warmup=0)
    floor_groups = [g for g in groups if any(bench.FLOOR in key for key in g)]
    assert len(floor_groups) == 1 and not any(("rnn", "numpy") in g for g in floor_groups)


MACHINE = {"cpu": "a CPU", "cores": 1, "platform": "an OS", "python": "3", "numpy": "2", "threads": 1, "env": {}}


@pytest.mark.parametrize("floor, reach", [(0.6, "yes"), (0.8, "**no**")])
def test_floor_plus_gemms_is_held_against_the_bound_times_the_fastest_peer(floor, reach):
    """NumPy 1.0 ms, its GEMMs 0.4 ms of which 0.1 their calls' dispatch (the GEMM step at D = H = V = 2), the
    fastest peer 0.8 ms: the target is 1.25 x 0.8 = 1.0 ms, and floor + 0.3 must stay under it."""
    numpy_row = _row("gru", "teaching", "float32", "numpy", 1.0, ratio=1.25, limit_fraction=0.4)
    numpy_row.floor_ms, numpy_row.floor_limit_ms = floor, 0.1
    peer = _row("gru", "teaching", "float32", "torch-fused", 0.8)
    text = bench.render_markdown(bench.BenchResult([numpy_row, peer], MACHINE))
    line = next(x for x in text.splitlines() if x.startswith("| teaching | gru | float32 | 1 | "))
    assert line == f"| teaching | gru | float32 | 1 | {floor:g} | {floor:.0%} | {floor + 0.3:.3g} | 1 | {reach} |"


def test_a_result_written_before_the_floor_was_measured_reads_back_without_it():
    old = {k: v for k, v in _row("rnn", "teaching", "float64", "numpy", 1.0).__dict__.items()
           if k not in ("floor_ms", "floor_limit_ms")}
    again = bench.BenchResult.from_dict({"rows": [old], "machine": MACHINE})
    assert again.rows[0].floor_ms is None and "dispatch floor" not in bench.render_markdown(again)


def test_a_paired_median_cancels_drift_that_a_ratio_of_medians_does_not():
    """The second step takes 0.8x the first in every repeat the machine's speed was the same for both; a
    slow phase covered repeats 1-3 for the first and ended before the second's sample of repeat 3."""
    first = [1.0, 3.0, 3.0, 3.0, 1.0]
    second = [0.8 * t for t in [1.0, 3.0, 3.0, 1.0, 1.0]]
    assert bench.paired_median(second, first) == pytest.approx(0.8)
    assert np.median(second) / np.median(first) == pytest.approx(0.8 / 3)  # what dividing medians reports


def test_the_rows_ratios_are_the_paired_medians_of_their_samples(tiny_run):
    by = {(r.model, r.impl): r for r in tiny_run.rows}
    for r in tiny_run.rows:
        assert len(r.samples_ms) == r.repeats and r.median_ms == pytest.approx(np.median(r.samples_ms))
        if r.ratio is not None:
            peer = by[r.model, r.fastest_peer]
            assert r.ratio == pytest.approx(bench.paired_median(r.samples_ms, peer.samples_ms))


def test_interleaving_rotates_the_order_every_repeat():
    calls = []
    steps = {k: (lambda k=k: calls.append(k)) for k in "abc"}
    times = bench.time_interleaved(steps, repeats=3, warmup=1, min_sample_s=0)
    assert calls == list("abc" + "abc" + "bca" + "cab") and all(len(t) == 3 for t in times.values())


def test_a_short_step_is_timed_over_back_to_back_calls_and_a_long_one_once():
    calls = {"short": 0, "long": 0}

    def short():
        calls["short"] += 1

    def long():
        calls["long"] += 1
        time.sleep(0.03)

    times = bench.time_interleaved({"short": short, "long": long}, repeats=2, warmup=1, min_sample_s=0.02)
    assert calls["long"] == 1 + 2 and calls["short"] > 1 + 2 * 10  # the warm-up call, then 2 samples
    assert all(t >= 0.03 for t in times["long"]) and all(t < 0.01 for t in times["short"])


# --- per call and per step -------------------------------------------------------------------------

def test_the_length_sweep_recovers_the_per_call_and_per_step_cost_of_a_known_line(monkeypatch):
    """Timings that grow exactly as a + b T (a = 150 us, b = 13 us for NumPy; 90 and 12 for JAX) must come
    back as those intercepts and slopes, per implementation, in microseconds."""
    from gradlab.bench import sweeps

    def fake(steps, repeats, warmup):
        cost = {"numpy": (150e-6, 13e-6), "jax-jit": (90e-6, 12e-6)}
        return {(impl, T): [cost[impl][0] + cost[impl][1] * T] * repeats for impl, T in steps}

    monkeypatch.setattr(sweeps, "time_interleaved", fake)
    monkeypatch.setattr(sweeps, "jax_impl", sweeps.numpy_impl)  # nothing to compile: the times are given
    monkeypatch.setattr(sweeps, "skip_reason", lambda impl, model: "")
    rows = sweeps.length_sweep(lambda _: None, TINY, models=("rnn",), dtypes=("float64",), repeats=3)
    got = {r["impl"]: (r["per_call_us"], r["per_step_us"]) for r in rows}
    assert got == {"numpy": (pytest.approx(150), pytest.approx(13)), "jax-jit": (pytest.approx(90), pytest.approx(12))}
    assert rows[0]["T"] == list(sweeps.LENGTH_T) and rows[0]["median_ms"][0] == pytest.approx(0.15 + 0.013 * 10)


def test_the_length_sweep_renders_and_survives_a_json_round_trip():
    rows = [{"model": "gru", "dtype": "float32", "impl": "numpy", "sizes": bench.SIZES["teaching"]._asdict(),
             "T": [10, 25, 50], "median_ms": [0.28, 0.48, 0.82], "per_call_us": 153.0, "per_step_us": 13.2}]
    result = bench.BenchResult([], MACHINE, lengths=rows)
    text = bench.render_markdown(result)
    assert "## Per call and per step (B=1, D=65, H=100, V=65; T = 10, 25, 50)" in text
    assert "| gru | float32 | numpy | 0.28, 0.48, 0.82 | 153 | 13.2 |" in text
    assert bench.BenchResult.from_dict(json.loads(result.to_json())).lengths == rows
    assert "Per call and per step" not in bench.render_markdown(bench.BenchResult([], MACHINE))


def test_the_rnn_cache_holds_the_inputs_and_every_hidden_state():
    T, B, D, H, _ = TINY
    assert bench.cache_bytes("rnn", TINY) == 8 * (T * B * D + (T + 1) * B * H)
    assert bench.peak_bytes("rnn", TINY) >= bench.cache_bytes("rnn", TINY)


def test_the_peak_counts_the_memory_kept_between_calls():
    """A size whose arrays the workspace keeps (>= 1 MiB): measured again, after a call left its memory,
    the peak must not shrink to what that call did not hand back."""
    sizes = Sizes(T=32, B=64, D=8, H=64, V=8)  # hs alone is 33 * 64 * 64 * 8 bytes = 1.03 MiB
    first = bench.peak_bytes("rnn", sizes)
    get("rnn").grads(*get("rnn").random_problem(sizes))  # leaves the workspace full
    again = bench.peak_bytes("rnn", sizes)
    assert first >= bench.cache_bytes("rnn", sizes)
    assert abs(again - first) < 2**16, (first, again)  # a few KiB of Python objects vary; a kept MiB may not


# --- bad arguments ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    ({"models": "elman"}, "models: expected names from"),
    ({"sizes": "huge"}, "sizes: expected names from"),
    ({"sizes": "1,2,3"}, "sizes: expected five positive integers"),
    ({"dtypes": "int8"}, "dtypes: expected names from float64, float32"),
    ({"impls": "tensorflow"}, "impls: expected names from numpy"),
    ({"repeats": 0}, "repeats: expected a positive integer, got 0"),
    ({"threads": -1}, "threads: expected a positive integer"),
    ({"warmup": -1}, "warmup: expected a positive integer"),
])
def test_bad_arguments_raise_a_value_error_naming_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        bench.run(quick=True, **kwargs)


def test_other_bad_arguments_are_refused_before_any_work():
    with pytest.raises(TypeError, match="quick: expected True or False"):
        bench.run(quick="yes")
    with pytest.raises(ValueError, match="model: expected one of"):
        bench.gemms("elman", TINY)
    with pytest.raises(ValueError, match="sizes: expected names from"):
        bench.run_full(out_dir=None, sizes=[TINY])


# --- the command line -------------------------------------------------------------------------------

def test_gradlab_bench_quick_prints_the_table_and_exits_0(capsys):
    from gradlab import cli

    assert cli.main(["bench", "--quick", "--models", "rnn", "--sizes", "3,2,4,5,6", "--impls", "numpy",
                     "--repeats", "2"]) == 0
    out = capsys.readouterr().out
    assert "T=3, B=2, D=4, H=5, V=6" in out and "numpy" in out and "GFLOP/s" in out


def test_gradlab_bench_exits_1_when_an_implementation_disagrees(monkeypatch, capsys):
    from gradlab import cli

    real = bench.run

    def planted(**kwargs):
        result = real(**kwargs)
        result.agreement[0].ok = False
        return result

    monkeypatch.setattr(bench, "run", planted)
    assert cli.main(["bench", "--quick", "--models", "rnn", "--sizes", "3,2,4,5,6", "--impls", "numpy",
                     "--repeats", "2", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["rows"]


@pytest.mark.parametrize("argv, message", [
    (["bench", "--quick", "--threads", "0"], "threads: expected positive integers separated by commas, got '0'"),
    (["bench", "--quick", "--sizes", "huge"], "sizes: expected names from teaching, medium, large or T,B,D,H,V"),
    (["bench", "--quick", "--models", "elman"], "models: expected"),
])
def test_gradlab_bench_bad_arguments_print_one_line_and_exit_2(argv, message, capsys):
    from gradlab import cli

    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
