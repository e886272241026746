"""The request sent to the child (a list of calls over two numeric pools) and the reading of its answer.

Every call names its arguments as slices [offset, shape] of a float64 pool and an int64 pool, so
a problem's arrays travel once however many calls use them; a finite-difference call adds only a
perturbation ``[argument, flat index or direction, step]``. The answer's size is known here before
the child starts (the sum of every call's output sizes), so the decoder checks the declared shapes
against it before allocating anything.
"""

from __future__ import annotations

import json

import numpy as np

from gradlab.student import frames
from gradlab.student.adapters import Out, Problem

OUT_CHUNK = frames.MAX_ARRAY_BYTES // 8  # float64 elements per out array (16 MiB)
STATUS = {0: "ok", 1: "raised", 2: "bad return", 3: "skipped (time budget)", 4: "not run"}


class PlanTooLarge(ValueError):
    pass


class Plan:
    def __init__(self, mode: str = "run"):
        self.mode = mode
        self._f, self._i, self._nf, self._ni = [], [], 0, 0
        self._refs: dict[int, list] = {}
        self._keep: list[np.ndarray] = []  # keeps the arrays whose id() keys _refs alive
        self.calls: list[dict] = []
        self.tags: list[tuple] = []
        self.sizes: list[int] = []
        self.outs: list[list[Out]] = []

    def _ref(self, a: np.ndarray, ints: bool = False) -> list:
        key = id(a)
        if key not in self._refs:
            self._keep.append(a)
            a = np.ascontiguousarray(a, dtype=np.int64 if ints else np.float64)
            if ints:
                self._refs[key] = [self._ni, list(a.shape)]
                self._i.append(a.reshape(-1))
                self._ni += a.size
            else:
                self._refs[key] = [self._nf, list(a.shape)]
                self._f.append(a.reshape(-1))
                self._nf += a.size
        return self._refs[key]

    def add(self, tag: tuple, static: dict, problem: Problem, outs: list[Out], mode: str = "full",
            perturb: tuple | None = None, aux: bool = True) -> int:
        """Append one call; return its index. ``mode`` "loss" returns only the scalar loss."""
        call = dict(static, mode=mode, aux=aux)
        call["args"] = {k: self._ref(v) for k, v in problem.args.items()}
        call["iargs"] = {k: self._ref(v, ints=True) for k, v in problem.iargs.items()}
        if perturb is not None:
            name, where, step = perturb
            call["perturb"] = [name, int(where) if np.isscalar(where) else self._ref(where), float(step)]
        outs = outs if mode == "full" else [Out("loss", (), "loss", "loss")]
        call["out"] = [[o.name, list(o.shape)] for o in outs]
        self.calls.append(call)
        self.tags.append(tag)
        self.outs.append(outs)
        self.sizes.append(sum(int(np.prod(o.shape, dtype=np.int64)) for o in outs))
        return len(self.calls) - 1

    @property
    def total_out(self) -> int:
        return sum(self.sizes)

    def request(self, functions, budget_cpu_s: float, budget_wall_s: float, **extra) -> bytes:
        if self.total_out * 8 > frames.MAX_TOTAL_BYTES:
            raise PlanTooLarge(f"the answer would take {self.total_out * 8} bytes, over the 64 MiB frame limit")
        plan = {"mode": self.mode, "functions": list(functions), "calls": self.calls, "budget_cpu_s": budget_cpu_s,
                "budget_wall_s": budget_wall_s, "out_chunk": OUT_CHUNK, **extra}
        arrays = {"plan": frames.text_array(json.dumps(plan), 1 << 31)}
        arrays["f64"] = np.concatenate(self._f) if self._f else np.zeros(0)
        arrays["i64"] = np.concatenate(self._i) if self._i else np.zeros(0, np.int64)
        return frames.encode(arrays)

    def expected(self) -> dict[str, frames.Spec]:
        """The specs of a valid answer: meta always; status and out chunks only after a successful import."""
        spec = {"meta": frames.Spec("u", max_elements=1 << 20),
                "status": frames.Spec("iu", shape=(len(self.calls),), required=False)}
        total = self.total_out
        for k, start in enumerate(range(0, max(total, 1), OUT_CHUNK)):
            spec[f"out{k}"] = frames.Spec("f", shape=(min(OUT_CHUNK, max(total, 1) - start),), required=False)
        return spec

    def answers(self, arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, list[dict[str, np.ndarray] | None]]:
        """(status per call, per call {out name: array} or None where it did not succeed)."""
        status = arrays.get("status")
        if status is None:
            return np.full(len(self.calls), 4), [None] * len(self.calls)
        chunks = [arrays[f"out{k}"] for k in range(len(arrays)) if f"out{k}" in arrays]
        flat = np.concatenate(chunks).astype(np.float64) if chunks else np.zeros(0)
        if flat.size < self.total_out:
            raise frames.FrameError(f"the answer holds {flat.size} numbers, expected {self.total_out}")
        results, offset = [], 0
        for i, outs in enumerate(self.outs):
            if int(status[i]) != 0:
                results.append(None)
            else:
                values, pos = {}, offset
                for o in outs:
                    n = int(np.prod(o.shape, dtype=np.int64))
                    values[o.name] = flat[pos:pos + n].reshape(o.shape)
                    pos += n
                results.append(values)
            offset += self.sizes[i]
        return status.astype(np.int64), results
