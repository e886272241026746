"""Memory kept between calls for the arrays that never leave a call (the cache, the logits, the
backward's temporaries), so that ``loss_and_grads`` does not ask the OS for it again every time.

Why: a large NumPy array is mapped fresh by malloc (mmap) and unmapped when freed, and the kernel
zeroes every page of it again on first touch. At the large benchmark size a call's temporaries are
~0.5 GB: in float64 that cost ~0.24 s of system time and ~5000 page faults per LSTM call (10% of its
step). benchmarks/README.md has the measurements.

How: inside ``reusing(key)`` (which ``loss_and_grads`` enters with its model's key), ``empty(shape, dtype)``
of at least MIN_BYTES hands out the memory of the request at the same position in the call order of the
previous call with that key, as an array of the new shape and dtype, and allocates only when that memory
is too small. Each key (each model and convention) keeps its own memory, so models that take turns in one
thread do not take each other's. Outside
``reusing()``, and below MIN_BYTES, it is ``np.empty``: ``forward`` and ``backward`` called on their
own return fresh arrays.

Below MIN_BYTES there is glibc's heap, whose top it gives back to the OS (brk) once more than its trim
threshold is free there: at the teaching size a float64 LSTM call grew the heap by ~1.1 MB and gave it
back every call, 114 page faults and ~0.45 ms of a ~1.65 ms call (the GRU 81 faults, ~0.2 ms), in a
process that ran nothing but NumPy. glibc raises that threshold (to twice the block) when a block it had
mapped with mmap is freed, as happens whenever a program frees a large array; so the first ``reusing()``
of a thread allocates and frees one block of MALLOC_PRIME_BYTES (``prime_malloc``), which the benchmark's
process had done anyway (JAX and PyTorch free larger ones). Elsewhere than glibc it is one allocation.

``plan(build, *args)`` keeps more than memory: what ``build`` returns, the arrays of a loop together with the
per-step views it iterates (``list(zip(hs[:-1], hs[1:], ...))``), handed out whole to the next call that asks
with the same arguments. Made afresh, those views were a tenth of a teaching-size call.

The contract that keeps this safe: nothing a function returns to the caller of ``loss_and_grads`` is
(a view of) workspace memory; the returned gradients are fresh arrays, and tests/models/test_workspace.py
checks that a second call leaves the first call's results unchanged. The memory is per thread, and each
key's last call's is kept until ``release()``.
"""

from __future__ import annotations

import functools
import math
import threading

import numpy as np

MIN_BYTES = 1 << 20
"""Smaller requests get np.empty: glibc serves them from its heap, reusing memory the call has just
freed, without page faults, and that keeps a small model's working set in L2. Kept instead, they made
the teaching size 5-20% slower (the kept buffers and the fresh gradients no longer fit L2 together), and
in the twelfth round still 1-3.5% (benchmarks/README.md). Requests inside a ``plan``'s build are kept
whatever their size: the views kept with them are worth more."""


MALLOC_PRIME_BYTES = 4 << 20
"""glibc then keeps up to twice this free at the top of its heap (8 MB) and maps only requests of at least
this size with mmap: the teaching size's per-call heap (~1.1 MB) stays in place. 0 turns priming off."""


def prime_malloc() -> None:
    """Allocate and free one MALLOC_PRIME_BYTES block: under glibc's dynamic thresholds (the default;
    mallopt or MALLOC_*_THRESHOLD_ turn them off) freeing a block it had mmapped raises the mmap threshold
    to its size and the trim threshold to twice that, so the heap stops shrinking and regrowing per call."""
    if MALLOC_PRIME_BYTES:
        np.empty(MALLOC_PRIME_BYTES, np.uint8)  # freed at once


class _Plan:
    """One ``plan`` of a key: the arguments and value of its last build, and the memory its requests got."""

    __slots__ = ("args", "buffers", "value")

    def __init__(self):
        self.args, self.value, self.buffers = None, None, []


class _Pool(threading.local):
    """One thread's buffers: per key of ``reusing``, raw bytes, one per request position of that key's last call."""

    def __init__(self):
        self.kept: dict = {}  # key -> [uint8 1-D buffers], one list per caller (a model and its convention)
        self.buffers: list[np.ndarray] = []  # the list of the call in progress (depth > 0)
        self.depth = 0  # nesting of reusing(); requests are served from the pool while > 0
        self.position = 0  # the next request's position in the call order
        self.primed = False  # prime_malloc() has run for this thread's first reusing()
        self.key = None  # the key of the call in progress
        self.plans: dict = {}  # (key, build) -> [_Plan], one per time the call asks for that build
        self.uses: dict = {}  # build -> how many times the call in progress has asked for it
        self.keep_small = False  # inside a plan's build, where every request is kept


_pool = _Pool()


class reusing:  # lower case: used like a function, ``with reusing(key):``
    """Serve ``empty`` from the memory of the previous call with the same ``key`` while inside (re-entrant, per
    thread; an inner ``reusing`` continues the outer call's order, whatever its key).

    The key names the caller, so that each keeps its own memory: requests come in one order per model and
    convention, and one list shared by models that take turns (a benchmark's interleaved repeats, ``gradlab
    verify`` over every model, a class's mixed submissions) saw each model's buffers at a position replaced
    by another's, too small, and faulted back in at every turn: the large float64 GRU, interleaved with the RNN
    and the LSTM, took 1.12-1.63 s a call against 1.08-1.18 with a list per model (benchmarks/README.md, tenth
    round). A class rather than @contextmanager: entering and leaving cost a microsecond less, which the
    teaching size (~0.5 ms a call) notices.
    """

    __slots__ = ("key",)

    def __init__(self, key=None):
        self.key = key

    def __enter__(self) -> None:
        pool = _pool
        if pool.depth == 0:
            pool.position, pool.key = 0, self.key
            pool.buffers = pool.kept.setdefault(self.key, [])
            pool.uses.clear()
            if not pool.primed:
                pool.primed = True
                prime_malloc()
        pool.depth += 1

    def __exit__(self, *exc) -> None:
        pool = _pool
        pool.depth -= 1
        if pool.depth == 0:
            del pool.buffers[pool.position:]  # what this call did not ask for is not kept


def empty(shape, dtype) -> np.ndarray:
    """An uninitialised array like ``np.empty(shape, dtype)``; inside ``reusing()``, on kept memory."""
    dtype = np.dtype(dtype)
    try:
        nbytes = math.prod(shape) * dtype.itemsize  # a teaching-size call asks ~20 times: no isinstance first
    except TypeError:  # an int, as np.empty takes
        shape = (int(shape),)
        nbytes = shape[0] * dtype.itemsize
    pool = _pool
    if pool.depth == 0 or (nbytes < MIN_BYTES and not pool.keep_small):
        return np.empty(shape, dtype)
    shape = tuple(shape)
    i = pool.position
    pool.position += 1
    if i == len(pool.buffers):
        pool.buffers.append(np.empty(nbytes, np.uint8))
    elif pool.buffers[i].size < nbytes:
        pool.buffers[i] = np.empty(nbytes, np.uint8)
    # malloc's alignment (16 bytes) suits every dtype the models run in, complex128 included
    return pool.buffers[i][:nbytes].view(dtype).reshape(shape)


def plan(build, *args):
    """``build(*args)``, a call's buffers and their per-step views, built once and handed out again to the
    next calls with the same key that ask for it with the same ``args`` (arrays compared by identity, the rest
    by ==); outside ``reusing()``, built every time.

    Why: a time loop's per-step views (``zip(hs[:-1], hs[1:], ...)``) cost ~55 ns each to make, and a
    teaching-size LSTM call made ~400 of them, a tenth of its time; kept with the buffers they view, a call
    makes none (benchmarks/README.md, twelfth round). The n-th request for ``build`` in a call gets the n-th
    plan of its key, so one call can hold two of the same. Every ``empty`` inside ``build`` is kept whatever
    its size, in the plan's own memory, by position: a rebuild for other ``args`` (another length, say)
    reuses that memory as ``reusing`` does. What ``build`` returns must depend on nothing but its ``args``.
    """
    pool = _pool
    if pool.depth == 0:
        return build(*args)
    n = pool.uses.get(build, 0)
    pool.uses[build] = n + 1
    plans = pool.plans.setdefault((pool.key, build), [])
    if n == len(plans):
        plans.append(_Plan())
    kept = plans[n]
    if kept.args is not None and _same(kept.args, args):
        return kept.value
    kept.args = kept.value = None  # until the build succeeds
    outer = pool.buffers, pool.position, pool.keep_small
    pool.buffers, pool.position, pool.keep_small = kept.buffers, 0, True
    try:
        value = build(*args)
        del kept.buffers[pool.position:]
    finally:
        pool.buffers, pool.position, pool.keep_small = outer
    kept.args, kept.value = args, value
    return value


def _same(args: tuple, kept: tuple) -> bool:
    """Whether plan arguments match: arrays by identity (a kept plan holds the ones it was built on), the
    rest (sizes, dtypes) by equality."""
    return len(args) == len(kept) and all(
        a is b or (not isinstance(a, np.ndarray) and not isinstance(b, np.ndarray) and a == b)
        for a, b in zip(args, kept))


def kept_bytes() -> int:
    """Bytes this thread keeps between calls, over every key, plans included."""
    plans = (kept.buffers for plans in _pool.plans.values() for kept in plans)
    return sum(b.nbytes for buffers in (*_pool.kept.values(), *plans) for b in buffers)


def release() -> None:
    """Free this thread's kept memory, of every key (the next call allocates afresh)."""
    if _pool.depth:
        raise RuntimeError("workspace.release: called inside reusing(), where the memory is in use")
    _pool.kept.clear()
    _pool.plans.clear()
    _pool.buffers = []


def returned(shapes: dict[str, tuple[int, ...]], dtype) -> dict[str, np.ndarray]:
    """Fresh uninitialised arrays for what a call hands back (its gradients): views of ONE new allocation.

    Not kept memory: every call gets new arrays, which the caller owns. One allocation rather than one per
    parameter: freeing a block that was mmapped raises glibc's mmap and trim thresholds to that block's
    size, so from the second call on the whole block comes from, and goes back to, the heap. That alone
    ended the teaching-size float64 LSTM's page faults only where the thresholds were already high enough
    for the rest of the call's heap; ``prime_malloc`` (module docstring) makes that so in every process
    (benchmarks/README.md, fourth and fifth rounds).
    """
    total, layout = _layout(tuple(shapes.items()))
    block = np.empty(total, dtype)
    return {key: block[start:stop].reshape(shape) for key, start, stop, shape in layout}


@functools.lru_cache(maxsize=64)
def _layout(shapes: tuple[tuple[str, tuple[int, ...]], ...]) -> tuple[int, tuple[tuple[str, int, int, tuple], ...]]:
    """((key, shape), ...) -> (total size, ((key, start, stop, shape), ...)): where each array sits in the block."""
    layout, offset = [], 0
    for key, shape in shapes:
        size = math.prod(shape)
        layout.append((key, offset, offset + size, shape))
        offset += size
    return offset, tuple(layout)
