"""The child side of the sandbox: run as ``python -I shim.py LIMITS_JSON RESULT_FD`` in a fresh directory.

It is the only code that ever imports a submission. In order:

1. set the resource limits named in LIMITS_JSON (CPU, address space, processes, file size, open
   files, core) and read them back, so the report says which layers were applied;
2. read ``request.bin`` (framed arrays: a JSON plan and two numeric pools) from the working directory;
3. import ``submission.py`` as the module ``submission``, catching BaseException (SystemExit too);
4. probe (report the module's arrays and callables) or run the plan's calls, each on fresh copies of
   its inputs, noting a function that modifies its inputs in place;
5. write ONE framed message (``status`` per call, ``meta`` JSON as uint8, ``out0..`` float64) to
   RESULT_FD, and leave with ``os._exit`` so no atexit hook or thread of the submission runs after.

Everything is re-checked by the parent: the child's report is evidence, never a verdict. Only the
standard library, NumPy and ``frames.py`` (loaded by path, beside this file) are used.
"""

import importlib.util
import json
import os
import resource
import sys
import time
import traceback

RLIMITS = {"cpu": resource.RLIMIT_CPU, "as": resource.RLIMIT_AS, "nproc": resource.RLIMIT_NPROC,
           "fsize": resource.RLIMIT_FSIZE, "nofile": resource.RLIMIT_NOFILE, "core": resource.RLIMIT_CORE}
SUBMISSION = "submission.py"
MAX_ERRORS = 5  # detailed error records per run; the rest are counted
MAX_TRACEBACK = 8000  # characters kept of each traceback
OK, RAISED, BAD_RETURN, SKIPPED, NOT_RUN = 0, 1, 2, 3, 4


def set_limits(limits):
    applied, failed = {}, {}
    for name, (soft, hard) in limits.items():
        try:
            resource.setrlimit(RLIMITS[name], (soft, hard))
            applied[name] = list(resource.getrlimit(RLIMITS[name]))
        except (ValueError, OSError, KeyError) as exc:
            failed[name] = str(exc)
    return applied, failed


# --- 1. limits first, before anything of size is imported -------------------------------------------
_limits_applied, _limits_failed = set_limits({k: tuple(v) for k, v in json.loads(sys.argv[1]).items()})
RESULT_FD = int(sys.argv[-1])  # argv: LIMITS_JSON [OPTIONS_JSON] RESULT_FD
_options = json.loads(sys.argv[2]) if len(sys.argv) > 3 else {}


def _load_beside(name, filename):
    """A module from this directory, by path (the child never imports gradlab)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                     filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- 1b. the seccomp filter: inet sockets, io_uring (binds this process and all it starts) ------------
_seccomp = _load_beside("_gradlab_seccomp", "seccomp_filter.py").install() if _options.get("seccomp") else "not asked"
_started = time.monotonic()

import numpy as np

_spec = importlib.util.spec_from_file_location(
    "_gradlab_frames", os.path.join(os.path.dirname(os.path.abspath(__file__)), "frames.py"))
frames = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(frames)

# NumPy functions the shim needs, captured before the submission can monkeypatch them.
_asarray, _array, _copyto, _zeros, _array_equal = np.asarray, np.array, np.copyto, np.zeros, np.array_equal
_ndarray, _float64, _vdot = np.ndarray, np.float64, np.vdot
_process_time, _monotonic = time.process_time, time.monotonic


def student_traceback(exc):
    """The traceback through the submission's own frames (the shim's are noise to a student)."""
    frames_ = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames_ if os.path.basename(f.filename) == SUBMISSION] or frames_[-1:]
    if not any(os.path.basename(f.filename) == SUBMISSION for f in frames_) and frames_ and \
            os.path.abspath(frames_[-1].filename) == os.path.abspath(__file__) and not isinstance(exc, BadReturn):
        return "INTERNAL " + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-MAX_TRACEBACK:]
    text = "Traceback (most recent call last):\n" + "".join(traceback.format_list(mine))
    text += "".join(traceback.format_exception_only(type(exc), exc))
    return text[-MAX_TRACEBACK:]


def error_record(exc, kind, call=None):
    rec = {"kind": kind, "type": type(exc).__name__, "message": str(exc)[:2000],
           "traceback": student_traceback(exc)}
    if isinstance(exc, SystemExit):
        rec["message"] = f"SystemExit({exc.code!r})"
    if call is not None:
        rec["call"] = call
    return rec


class BadReturn(Exception):
    """The submission returned something other than the contract's numbers."""


def write_result(meta, status=None, out=None, chunk=1):
    arrays = {"meta": frames.text_array(json.dumps(meta), 1 << 20)}
    if status is not None:
        arrays["status"] = status
    if out is not None:
        for k in range(0, max(1, out.size), chunk):
            arrays[f"out{k // chunk}"] = out[k:k + chunk]
    data = frames.encode(arrays)
    view = memoryview(data)
    while view:
        n = os.write(RESULT_FD, view)
        view = view[n:]


def finish(meta, status=None, out=None, chunk=1):
    meta["cpu_s"] = _process_time()
    try:
        write_result(meta, status, out, chunk)
        code = 0
    except BaseException:  # noqa: BLE001 - the fd closed by the submission, or an unencodable report
        code = 3
    for stream in (sys.stdout, sys.stderr):  # what the submission printed, for the report
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001, S110 - a broken stream must not cost the result already written
            pass
    os._exit(code)


# --- 2. the request ------------------------------------------------------------------------------------
with open("request.bin", "rb") as fh:
    _req = frames.decode(fh.read(), None, max_arrays=8, max_array_bytes=1 << 31, max_total=1 << 31)
PLAN = json.loads(frames.array_text(_req["plan"]))
F64 = _req.get("f64", _zeros(0))
I64 = _req.get("i64", _zeros(0, dtype=np.int64))

META = {"shim": 1, "uid": os.getuid(), "limits": _limits_applied, "limit_errors": _limits_failed,
        "seccomp": _seccomp,
        "threads_env": os.environ.get("OPENBLAS_NUM_THREADS"), "errors": [], "n_errors": 0, "modified": {}}


def fetch(ref, pool=None):
    """A fresh copy of the pool slice ``ref`` = [offset, shape]: students always receive copies."""
    offset, shape = ref
    size = 1
    for d in shape:
        size *= d
    return _array(F64 if pool is None else pool, copy=False)[offset:offset + size].reshape(shape).copy()


# --- 3. import the submission ----------------------------------------------------------------------------
sys.dont_write_bytecode = True  # no __pycache__ in the private directory
try:
    _mspec = importlib.util.spec_from_file_location("submission", os.path.abspath(SUBMISSION))
    student = importlib.util.module_from_spec(_mspec)
    sys.modules["submission"] = student
    sys.argv = [SUBMISSION]
    _mspec.loader.exec_module(student)
except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are failures too
    META["import"] = {"ok": False, **error_record(exc, "exit" if isinstance(exc, SystemExit) else "import")}
    finish(META)
META["import"] = {"ok": True, "wall_s": _monotonic() - _started}


# --- 4a. probe: what the module defines -----------------------------------------------------------------
def describe(value):
    if isinstance(value, _ndarray):
        return {"type": "ndarray", "shape": list(value.shape), "dtype": str(value.dtype), "kind": value.dtype.kind,
                "writeable": bool(value.flags.writeable)}
    if isinstance(value, (bool, int, float)):
        return {"type": type(value).__name__, "value": value}
    return {"type": type(value).__name__, "callable": callable(value)}


if PLAN["mode"] == "probe":
    META["probe"] = {name: describe(getattr(student, name)) for name in PLAN["names"] if hasattr(student, name)}
    finish(META)


# --- 4b. run the calls -----------------------------------------------------------------------------------
def as_numbers(value, name, shape, where):
    """The student's ``value`` as float64 of ``shape`` (a scalar when shape is []); BadReturn otherwise."""
    try:
        a = _asarray(value)
    except BaseException as exc:  # noqa: BLE001
        raise BadReturn(f"{where} returned {name} as {type(value).__name__}, which is not an array "
                        f"({type(exc).__name__}: {exc})") from None
    if a.dtype.kind not in frames.KINDS:
        raise BadReturn(f"{where} returned {name} with dtype {a.dtype} (kind {a.dtype.kind!r}); expected real numbers")
    if list(shape) == []:
        if a.size != 1:
            raise BadReturn(f"{where} returned {name} with shape {a.shape}; expected a scalar")
        return a.astype(_float64).reshape(())
    if list(a.shape) != list(shape):
        raise BadReturn(f"{where} returned {name} with shape {tuple(a.shape)}; expected {tuple(shape)}")
    return a.astype(_float64)


def unpack(returned, n, where, what):
    if not isinstance(returned, (tuple, list)) or len(returned) != n:
        got = f"{len(returned)} values" if isinstance(returned, (tuple, list)) else type(returned).__name__
        raise BadReturn(f"{where} returned {got}; expected {n}: {what}")
    return list(returned)


def args_of(call):
    args = {k: fetch(ref) for k, ref in call.get("args", {}).items()}
    args.update({k: fetch(ref, I64) for k, ref in call.get("iargs", {}).items()})
    if "perturb" in call:
        name, where, step = call["perturb"]
        if isinstance(where, int):
            args[name].reshape(-1)[where] += step
        else:
            args[name] += step * fetch(where)
    return args


def note_modified(name, before, after, call_index):
    same = (_array_equal(before, after, equal_nan=True) if isinstance(before, _ndarray) else before == after)
    if not same:
        META["modified"].setdefault(name, call_index)


def run_minchar(call, i):
    args = args_of(call)
    written = {}
    for name in call["module_arrays"]:  # OUR values written INTO the student's own arrays
        _copyto(getattr(student, name), args[name], casting="unsafe")
        written[name] = getattr(student, name).copy()
    inputs, targets = [int(v) for v in args["inputs"]], [int(v) for v in args["targets"]]
    hprev = args["hprev"]
    kept = {"hprev": hprev.copy(), "inputs": list(inputs), "targets": list(targets)}
    returned = student.lossFun(inputs, targets, hprev)
    note_modified("hprev", kept["hprev"], hprev, i)
    note_modified("inputs", kept["inputs"], inputs, i)
    note_modified("targets", kept["targets"], targets, i)
    for name in call["module_arrays"]:
        note_modified(name, written[name], getattr(student, name), i)
    names = [n for n, _ in call["out"]]
    values = [returned[0]] if call["mode"] == "loss" and isinstance(returned, (tuple, list)) and returned else \
        unpack(returned, len(names), "lossFun", ", ".join(names))
    return values[:len(names)]


def run_gradlab(call, i):
    args = args_of(call)
    params = {k: args[k] for k in call["params"]}
    kept = {k: v.copy() for k, v in args.items()}
    state = tuple(args[k] for k in call["state"])
    returned = getattr(student, call["fn"])(params, args["xs"], args["targets"],
                                            state[0] if len(state) == 1 else state)
    for k, v in args.items():
        note_modified(k, kept[k], v, i)
    loss, grads = unpack(returned, 2, call["fn"], "loss, grads")
    if call["mode"] == "loss":
        return [loss]
    if not hasattr(grads, "get"):
        raise BadReturn(f"{call['fn']} returned grads as {type(grads).__name__}; expected a dict of arrays")
    missing = [n for n, _ in call["out"][1:] if n not in grads]
    if missing:
        raise BadReturn(f"{call['fn']} returned grads without {', '.join(missing)} (keys: {', '.join(map(str, grads))})")
    return [loss] + [grads[n] for n, _ in call["out"][1:]]


def run_fwdbwd(call, i):
    args = args_of(call)
    kept = {k: v.copy() for k, v in args.items()}
    fwd_name, bwd_name, n = call["forward"], call["backward"], call["n_values"]
    fwd = unpack(getattr(student, fwd_name)(*(args[k] for k in call["fargs"])), n + 1, fwd_name,
                 ", ".join(call["value_names"] + ["cache"]))
    values = [as_numbers(v, name, shape, fwd_name)
              for v, name, shape in zip(fwd[:n], call["value_names"], call["value_shapes"])]
    upstream = [args[k] for k in call["upstream"]]
    if call["mode"] == "loss":  # <forward outputs, upstream>: the scalar whose gradient the backward returns
        for k in call["fargs"]:
            note_modified(k, kept[k], args[k], i)
        return [sum(float(_vdot(v, u)) for v, u in zip(values, upstream))]
    returned = getattr(student, bwd_name)(*upstream, fwd[n])
    for k in args:
        note_modified(k, kept[k], args[k], i)
    names = [name for name, _ in call["out"][n:]]
    return values + unpack(returned, len(names), bwd_name, ", ".join(names))


def run_optim(call, i):
    """An optimiser over call["steps"] fixed gradients; the parameters after each step, each (steps, *shape).

    style "gradlab": ``step(params, grads, state, lr) -> (params, state)``, dicts by name, state None at
    first and then whatever the student returned. style "minchar": ``update(params, grads, *mems, lr)``
    over lists in call["params"] order, updating params and mems in place (min-char-rnn's zip loop); the
    mems start at zero, and fresh lists of the same arrays are passed at every step (as min-char-rnn
    builds its lists anew), so only in-place changes carry over.
    """
    args = args_of(call)
    names, fn = call["params"], getattr(student, call["fn"])
    lr = float(args["lr"].reshape(-1)[0])
    shapes = [list(args[n].shape) for n in names]
    arrays = [args[n] for n in names]
    mems = [[_zeros(a.shape) for a in arrays] for _ in range(call.get("n_mems", 0))]
    params, state, trajectory = dict(zip(names, arrays)), None, [[] for _ in names]
    for t in range(call["steps"]):
        META["optim_step"] = t + 1
        grads = [args["g_" + n][t].copy() for n in names]
        if call["style"] == "minchar":
            fn(list(arrays), grads, *(list(m) for m in mems), lr)
            current = arrays
        else:
            params, state = unpack(fn(params, dict(zip(names, grads)), state, lr), 2, call["fn"], "params, state")
            if not hasattr(params, "get") or any(n not in params for n in names):
                raise BadReturn(f"{call['fn']} returned params as {type(params).__name__}; expected a dict with "
                                f"the keys {', '.join(names)}")
            current = [params[n] for n in names]
        for k, (n, value) in enumerate(zip(names, current)):
            trajectory[k].append(as_numbers(value, n, shapes[k], f"{call['fn']} (step {t + 1})"))
    return [_array(steps) for steps in trajectory]


RUNNERS = {"minchar": run_minchar, "gradlab": run_gradlab, "fwdbwd": run_fwdbwd, "optim": run_optim}

missing = [name for name in PLAN["functions"] if not callable(getattr(student, name, None))]
if missing:
    META["missing"] = missing
    finish(META)

calls = PLAN["calls"]
sizes = []
for call in calls:
    n = 0
    for _, shape in call["out"]:
        size = 1
        for d in shape:
            size *= d
        n += size
    sizes.append(n)
OUT = _zeros(sum(sizes))
STATUS = _zeros(len(calls), dtype=np.int8)
budget_cpu, budget_wall = PLAN["budget_cpu_s"], PLAN["budget_wall_s"]
offset, stop_aux = 0, False
for i, call in enumerate(calls):
    start = offset
    offset += sizes[i]
    if call.get("aux") and (stop_aux or _process_time() > budget_cpu or _monotonic() - _started > budget_wall):
        STATUS[i] = SKIPPED
        continue
    try:
        values = RUNNERS[call["kind"]](call, i)
        where = {"minchar": "lossFun", "gradlab": call.get("fn"), "optim": call.get("fn")}.get(
            call["kind"], call.get("backward"))
        pos = start
        for value, (name, shape) in zip(values, call["out"]):
            a = as_numbers(value, name, shape, where)
            OUT[pos:pos + a.size] = a.reshape(-1)
            pos += a.size
    except BaseException as exc:  # noqa: BLE001 - SystemExit inside a call is a failure of that call
        STATUS[i] = BAD_RETURN if isinstance(exc, BadReturn) else RAISED
        META["n_errors"] += 1
        if len(META["errors"]) < MAX_ERRORS:
            META["errors"].append(error_record(exc, "bad_return" if isinstance(exc, BadReturn) else "exception", i))
        if not call.get("aux"):
            stop_aux = True
        if isinstance(exc, MemoryError):
            stop_aux = True

META["skipped"] = int((STATUS == SKIPPED).sum())
finish(META, STATUS, OUT, PLAN["out_chunk"])
