"""gradlab/models/workspace.py: memory kept between calls, and the contract that nothing returned is in it."""

import os
import platform
import subprocess
import sys
import threading

import numpy as np
import pytest

from gradlab.bench.timing import cpu_fields
from gradlab.models import rnn, workspace
from gradlab.models.losses import softmax_cross_entropy
from gradlab.models.registry import MODELS
from gradlab.models.sizes import Sizes

BIG = (workspace.MIN_BYTES // 8,)  # float64 elements that fill exactly MIN_BYTES: kept inside reusing()


@pytest.fixture(autouse=True)
def empty_pool():
    workspace.release()
    yield
    workspace.release()


def test_outside_reusing_every_request_is_fresh():
    a, b = workspace.empty(BIG, np.float64), workspace.empty(BIG, np.float64)
    assert not np.shares_memory(a, b)
    assert workspace.kept_bytes() == 0


def test_the_next_call_gets_the_same_memory_at_the_same_position():
    with workspace.reusing():
        first = [workspace.empty(BIG, np.float64), workspace.empty((2, *BIG), np.float32)]
    with workspace.reusing():
        again = [workspace.empty(BIG, np.float64), workspace.empty((2, *BIG), np.float32)]
    assert [a.ctypes.data for a in first] == [a.ctypes.data for a in again]
    assert not np.shares_memory(*again)  # two positions, two buffers


def test_a_request_takes_the_shape_and_dtype_asked_for():
    with workspace.reusing():
        workspace.empty((4, *BIG), np.float64)
    with workspace.reusing():
        a = workspace.empty((3, BIG[0] * 2), np.complex128)  # smaller in bytes: the same memory, reshaped
    assert a.shape == (3, BIG[0] * 2) and a.dtype == np.complex128 and a.flags.c_contiguous
    a[...] = 1 + 2j  # writable, and the right size: no error, every element readable
    assert np.all(a == 1 + 2j)


def test_a_larger_request_gets_new_memory():
    with workspace.reusing():
        small = workspace.empty(BIG, np.float64)
    with workspace.reusing():
        large = workspace.empty((2, *BIG), np.float64)
    assert not np.shares_memory(small, large)
    assert workspace.kept_bytes() == large.nbytes


def test_small_requests_are_never_kept():
    with workspace.reusing():
        a = workspace.empty(BIG[0] // 2, np.float64)
    with workspace.reusing():
        b = workspace.empty(BIG[0] // 2, np.float64)
    assert workspace.kept_bytes() == 0
    assert a.base is None and b.base is None  # plain np.empty


def test_reusing_nests_without_restarting_the_order():
    with workspace.reusing():
        outer = workspace.empty(BIG, np.float64)
        with workspace.reusing():
            inner = workspace.empty(BIG, np.float64)
        assert not np.shares_memory(outer, inner)


def test_what_a_call_no_longer_asks_for_is_let_go():
    with workspace.reusing():
        workspace.empty(BIG, np.float64)
        workspace.empty(BIG, np.float64)
    assert workspace.kept_bytes() == 2 * workspace.MIN_BYTES
    with workspace.reusing():
        workspace.empty(BIG, np.float64)
    assert workspace.kept_bytes() == workspace.MIN_BYTES


def test_release_frees_and_refuses_inside_a_call():
    with workspace.reusing():
        workspace.empty(BIG, np.float64)
        with pytest.raises(RuntimeError, match="inside reusing"):
            workspace.release()
    workspace.release()
    assert workspace.kept_bytes() == 0


def take_turns(key_a, key_b) -> tuple[list[int], list[int]]:
    """Two callers with different requests at position 0 (b's larger) take two turns each; the address each gets."""
    a, b = [], []
    for _ in range(2):
        with workspace.reusing(key_a):
            a.append(workspace.empty(BIG, np.float64).ctypes.data)
        with workspace.reusing(key_b):
            b.append(workspace.empty((3, *BIG), np.float64).ctypes.data)
    return a, b


def test_each_key_keeps_its_own_memory_when_callers_take_turns():
    a, b = take_turns("rnn", "lstm")
    assert a[0] == a[1] and b[0] == b[1] and a[0] != b[0]
    assert workspace.kept_bytes() == 4 * workspace.MIN_BYTES  # both kept, side by side


def test_twin_callers_sharing_one_key_take_each_others_memory():
    """What the keys are for: under one key b's larger request replaces a's buffer at position 0, and the
    next a gets b's (so, in a model's call, the next too-small request allocates and faults afresh)."""
    a, _ = take_turns(None, None)
    assert a[0] != a[1]
    assert workspace.kept_bytes() == 3 * workspace.MIN_BYTES  # one buffer, the larger


def test_the_models_take_turns_without_taking_each_others_memory(monkeypatch):
    monkeypatch.setattr(workspace, "MIN_BYTES", 0)  # keep every request, however small
    problems = {name: (m, m.random_problem(Sizes(T=3, B=2, D=3, H=4, V=5), seed=0)) for name, m in MODELS.items()}
    kept = []
    for _ in range(2):
        for m, problem in problems.values():
            m.grads(*problem)
        kept.append({key: [b.ctypes.data for b in buffers] for key, buffers in workspace._pool.kept.items()})
    assert len(kept[0]) == len(MODELS)  # a key per model and convention
    assert kept[0] == kept[1]  # the second round allocated nothing


def test_threads_do_not_share_memory():
    with workspace.reusing():
        mine = workspace.empty(BIG, np.float64)
    theirs = []

    def other():
        with workspace.reusing():
            theirs.append(workspace.empty(BIG, np.float64))

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert not np.shares_memory(mine, theirs[0])
    with workspace.reusing():
        assert workspace.empty(BIG, np.float64).ctypes.data == mine.ctypes.data  # ours is still ours


# --- returned: the gradients' one fresh allocation ------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_returned_arrays_are_fresh_disjoint_and_of_the_asked_shapes(dtype):
    shapes = {"W": (7, 3), "b": (7,), "v": (1,), "s": ()}
    first, second = workspace.returned(shapes, dtype), workspace.returned(shapes, dtype)
    for out in (first, second):
        assert list(out) == list(shapes) and {k: v.shape for k, v in out.items()} == shapes
        for v in out.values():
            assert v.dtype == dtype and v.flags.c_contiguous and v.flags.writeable
        arrays = list(out.values())
        assert not any(np.shares_memory(a, b) for i, a in enumerate(arrays) for b in arrays[i + 1:])
    assert not any(np.shares_memory(a, b) for a in first.values() for b in second.values())
    assert workspace.kept_bytes() == 0  # nothing of it is kept


def test_returned_memory_is_not_the_workspace_even_inside_reusing(monkeypatch):
    monkeypatch.setattr(workspace, "MIN_BYTES", 0)
    with workspace.reusing():
        kept = workspace.empty((64,), np.float64)
        out = workspace.returned({"W": (64,)}, np.float64)
    assert not np.shares_memory(kept, out["W"])


def poison_empty(monkeypatch):
    """np.empty (and so every fresh array the models and workspace.returned take) filled with NaN."""
    def empty(shape, dtype=float, **kwargs):
        return np.full(shape, np.nan, dtype)
    monkeypatch.setattr(np, "empty", empty)


def assert_one_allocation_fully_written(model, monkeypatch):
    """backward fills the arrays of workspace.returned with out=: with np.empty poisoned, every parameter's
    gradient must still be finite and equal to the unpoisoned one."""
    theta, xs, targets = _problem(model, 2)
    _, grads = model.grads(theta, xs, targets)
    assert len({id(v.base) for k, v in grads.items() if k in model.param_shapes}) == 1  # one allocation
    with monkeypatch.context() as m:
        poison_empty(m)
        _, again = model.grads(theta, xs, targets)
    for k, v in again.items():
        assert np.all(np.isfinite(v)), f"{k}: entries left unwritten"
        np.testing.assert_array_equal(v, grads[k], err_msg=k)


@pytest.mark.parametrize("name", list(MODELS))
def test_the_gradients_are_one_allocation_and_every_entry_is_written(name, monkeypatch):
    assert_one_allocation_fully_written(MODELS[name], monkeypatch)


def test_twin_a_product_that_leaves_a_row_of_its_out_unwritten_is_caught(monkeypatch):
    from gradlab.models import rnn

    def short(dy, x, out=None):
        full = dy.reshape(-1, dy.shape[-1]).T @ x.reshape(-1, x.shape[-1])
        if out is None:
            return full
        out[:-1] = full[:-1]  # the last row forgotten
        return out

    monkeypatch.setattr(rnn, "outer_sum", short)
    with pytest.raises(AssertionError, match="unwritten"):
        assert_one_allocation_fully_written(MODELS["rnn"], monkeypatch)


# --- the contract: what loss_and_grads returns survives the next call ------------------------------------


def results_survive_the_next_call(call, first_args, second_args):
    """Call twice; the first call's (loss, grads) must be unchanged by the second (no workspace aliasing)."""
    loss, grads = call(*first_args)
    kept = float(loss), {k: v.copy() for k, v in grads.items()}
    call(*second_args)
    changed = [k for k, v in grads.items() if not np.array_equal(v, kept[1][k])]
    assert float(loss) == kept[0] and changed == [], f"the second call overwrote {changed}"


def _problem(model, seed):
    sizes = Sizes(T=6, B=4, D=3, H=5, V=7)
    theta, xs, targets = model.random_problem(sizes, seed=seed)
    return theta, xs, targets


@pytest.mark.parametrize("name", list(MODELS))
def test_loss_and_grads_returns_nothing_it_reuses(name, monkeypatch):
    monkeypatch.setattr(workspace, "MIN_BYTES", 0)  # keep every request, however small
    model = MODELS[name]
    results_survive_the_next_call(model.grads, _problem(model, 0), _problem(model, 1))
    assert workspace.kept_bytes() > 0  # the memory was kept: the check above had something to catch


@pytest.mark.parametrize("name", list(MODELS))
def test_kept_memory_gives_the_same_numbers(name, monkeypatch):
    """loss_and_grads (kept memory, dirty from another problem) == forward + backward on fresh arrays."""
    monkeypatch.setattr(workspace, "MIN_BYTES", 0)
    model = MODELS[name]
    model.grads(*_problem(model, 1))  # leave other numbers in the kept memory
    theta, xs, targets = _problem(model, 0)
    _, grads = model.grads(theta, xs, targets)
    logits, cache = model.forward(model.params(theta), xs, model.state(theta))
    fresh = model.backward(model.params(theta), cache, softmax_cross_entropy(logits, targets)[1])
    assert all(np.array_equal(grads[k], fresh[k]) for k in fresh)


def test_the_aliasing_check_catches_a_returned_buffer(monkeypatch):
    """Twin: a loss_and_grads that returns workspace memory (the mistake the contract forbids) is caught."""
    monkeypatch.setattr(workspace, "MIN_BYTES", 0)

    def leaky(value):
        with workspace.reusing():
            g = workspace.empty((3,), np.float64)
            g[...] = value
            return 0.0, {"W": g}

    with pytest.raises(AssertionError, match="overwrote"):
        results_survive_the_next_call(leaky, (1.0,), (2.0,))


FAULTS_SCRIPT = """
import resource, sys
import numpy as np
from gradlab.models import rnn, workspace
from gradlab.models.registry import get
from gradlab.models.sizes import Sizes
workspace.MALLOC_PRIME_BYTES = int(sys.argv[1])
model = get("lstm")
theta, xs, targets = model.random_problem(Sizes(25, 1, 65, 100, 65), seed=0)
for _ in range(20):
    model.grads(theta, xs, targets)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    model.grads(theta, xs, targets)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 50)
"""


def faults_per_call(prime_bytes: int, env: dict | None = None) -> float:
    """Minor page faults per teaching-size float64 LSTM call, in a fresh process that runs nothing else
    (this one has freed large arrays already, which primes glibc the same way); ``env`` adds variables."""
    run = subprocess.run([sys.executable, "-c", FAULTS_SCRIPT, str(prime_bytes)], capture_output=True, text=True,
                         timeout=120, check=True, env={**os.environ, **(env or {})})
    return float(run.stdout.strip())


def has_avx2() -> bool:
    return "avx2" in cpu_fields().get("flags", "").split()


glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's dynamic malloc thresholds")


TRIMMING = {"OPENBLAS_CORETYPE": "Haswell"}  # where glibc trims the heap unless primed (see the twin)
needs_avx2 = pytest.mark.skipif(not has_avx2(), reason="OpenBLAS's Haswell kernels need AVX2")


@glibc_only
@pytest.mark.parametrize("env", [None, pytest.param(TRIMMING, marks=needs_avx2, id="haswell-kernels")])
def test_a_small_call_in_a_numpy_only_process_does_not_fault_its_heap_back_in(env):
    """After prime_malloc, glibc keeps the ~1.1 MB the call grows its heap by instead of trimming it: in the
    environment as it is, and under the kernels where the twin shows that, unprimed, it does not."""
    assert faults_per_call(workspace.MALLOC_PRIME_BYTES, env) < 5


@glibc_only
@needs_avx2
def test_twin_without_priming_the_heap_is_trimmed_and_faulted_back_every_call():
    """The case prime_malloc exists for (113 faults per call when measured): if glibc ever stops trimming
    here on its own, this twin says the priming is no longer what keeps the faults away. Run under OpenBLAS's
    Haswell kernels (AVX2): in a process on its SkylakeX kernels (AVX-512 machines) the heap was not trimmed
    without the priming either (0.1 faults per call, measured), so there the twin would show nothing."""
    assert faults_per_call(0, TRIMMING) > 50


@pytest.mark.parametrize("name", list(MODELS))
def test_the_memory_kept_does_not_grow_with_the_number_of_blocks(name, monkeypatch):
    """A backward prepares its factors a block of steps at a time (one step a block at medium and large sizes):
    what it asks the workspace for must be asked once per call, not once per block, or a long sequence would
    keep a buffer per step. (The GRU's four-call backward first asked for two scratch arrays per block.)"""
    monkeypatch.setattr(workspace, "MIN_BYTES", 0)  # keep every request, however small
    monkeypatch.setattr(rnn, "BLOCK_BYTES", 1)  # one step a block
    model = MODELS[name]
    requests = []
    for T in (3, 6):
        model.grads(*model.random_problem(Sizes(T=T, B=2, D=3, H=4, V=5), seed=0))
        plans = [kept.buffers for plans in workspace._pool.plans.values() for kept in plans]
        requests.append(len(workspace._pool.buffers) + sum(map(len, plans)))  # kept buffers, one per request
    assert requests[0] == requests[1]


# --- plan: a call's buffers and their per-step views, kept whole --------------------------------------------


class Builds:
    """A plan builder that counts its builds: two arrays (one far below MIN_BYTES) and the rows of the first."""

    def __init__(self):
        self.count = 0

    def __call__(self, n, dtype):
        self.count += 1
        a, small = workspace.empty((n, 4), dtype), workspace.empty((2,), dtype)
        return a, small, list(a)


def test_outside_reusing_a_plan_is_built_every_time():
    build = Builds()
    first, second = workspace.plan(build, 3, np.float64), workspace.plan(build, 3, np.float64)
    assert build.count == 2 and not np.shares_memory(first[0], second[0])
    assert workspace.kept_bytes() == 0


def plan_in_two_calls(build, first: int, second: int):
    """The plans of build(n, float64) that two calls of one key get, for n = first, then second."""
    plans = []
    for n in (first, second):
        with workspace.reusing():
            plans.append(workspace.plan(build, n, np.float64))
    return plans


def test_the_next_call_gets_the_same_plan_and_its_views():
    build = Builds()
    first, again = plan_in_two_calls(build, 3, 3)
    assert build.count == 1 and again is first
    assert workspace.kept_bytes() == first[0].nbytes + first[1].nbytes  # small requests kept too, in a plan


def test_twin_other_args_rebuild_the_plan_on_its_memory():
    """Another length rebuilds (the old views would be wrong), on the memory the plan had (no new faults)."""
    build = Builds()
    long, short = plan_in_two_calls(build, 5, 3)
    assert build.count == 2 and len(short[2]) == 3 and short[0].shape == (3, 4)
    assert short[0].ctypes.data == long[0].ctypes.data


def test_array_args_are_compared_by_identity():
    build = Builds()
    keyed = lambda e: build(e.shape[0], e.dtype)  # a plan of views of e would be built so
    e = np.zeros((3, 4))
    for arg in (e, e, e.copy()):  # equal values, but a different array: its views would be another's
        with workspace.reusing():
            workspace.plan(keyed, arg)
    assert build.count == 2


def test_two_requests_in_one_call_get_two_plans():
    """A call that asks twice (two forwards, say) must not get the same arrays twice."""
    build = Builds()
    for _ in range(2):
        with workspace.reusing():
            a, b = workspace.plan(build, 3, np.float64), workspace.plan(build, 3, np.float64)
            assert not np.shares_memory(a[0], b[0])
    assert build.count == 2  # and each is kept for its turn in the next call


def test_each_key_keeps_its_own_plans():
    build = Builds()
    plans = {}
    for _ in range(2):
        for key in ("rnn", "lstm"):
            with workspace.reusing(key):
                plans.setdefault(key, set()).add(id(workspace.plan(build, 3, np.float64)))
    assert build.count == 2 and all(len(ids) == 1 for ids in plans.values())


def test_a_failed_build_is_not_handed_out():
    def failing(n):
        workspace.empty((n,), np.float64)
        raise ValueError("no")

    with workspace.reusing(), pytest.raises(ValueError):
        workspace.plan(failing, 3)
    build = Builds()
    with workspace.reusing():
        assert len(workspace.plan(build, 3, np.float64)[2]) == 3
        assert workspace.empty(BIG, np.float64).shape == BIG  # the call's own order is intact


def test_release_frees_the_plans():
    with workspace.reusing():
        workspace.plan(Builds(), 3, np.float64)
    assert workspace.kept_bytes() > 0
    workspace.release()
    assert workspace.kept_bytes() == 0


@pytest.mark.parametrize("name", list(MODELS))
def test_a_second_call_builds_no_views(name, monkeypatch):
    """The point of plans: the steps' views are made once (a call of another length makes them anew)."""
    built, counted, plan = [], {}, workspace.plan

    def counting(build, *args):  # one counting wrapper per builder, so that plans are still found by builder
        if build not in counted:
            counted[build] = lambda *a: built.append(build) or build(*a)
        return plan(counted[build], *args)

    monkeypatch.setattr(workspace, "plan", counting)
    model = MODELS[name]

    def builds(T, seed):
        built.clear()
        model.grads(*model.random_problem(Sizes(T=T, B=2, D=3, H=4, V=5), seed=seed))
        return len(built)

    assert builds(3, 0) == len(counted) >= 3  # the forward's, e's and the backward's at least
    assert builds(3, 1) == 0  # the same length: every plan handed out again
    assert builds(4, 0) == len(counted)  # another length: every plan rebuilt


@pytest.mark.parametrize("name", list(MODELS))
def test_plans_give_the_same_numbers_at_alternating_lengths(name):
    """Lengths T = 5, 3, 5 in turn (plans rebuilt on their own memory each time) == fresh forward + backward."""
    model = MODELS[name]
    for T, seed in ((5, 0), (3, 1), (5, 2)):
        theta, xs, targets = model.random_problem(Sizes(T=T, B=2, D=3, H=4, V=5), seed=seed)
        _, grads = model.grads(theta, xs, targets)
        logits, cache = model.forward(model.params(theta), xs, model.state(theta))
        fresh = model.backward(model.params(theta), cache, softmax_cross_entropy(logits, targets)[1])
        assert all(np.array_equal(grads[k], fresh[k]) for k in fresh)
