"""A per-run cgroup (v1 or v2) for tier A: pids and memory limits, CPU accounting, and killing all of it.

``Cgroup.make(limits)`` creates one group per controller under the parents that isolation.probe() found
writable (None when pids or memory is missing); the child joins it before exec (``Cgroup.joining``, a
``sh -c`` prefix), so everything the submission starts is counted, limited and killed together.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from gradlab.student import isolation, procs


class Cgroup:
    """A per-run cgroup in the pids and memory controllers (v1 or v2), where the tree is writable, and in
    cpuacct where that is writable too (the run's CPU time: see ``cpu_s``)."""

    def __init__(self, dirs: dict[str, Path]):
        self.dirs = dirs

    @classmethod
    def make(cls, limits) -> Cgroup | None:
        """The run's group with ``limits.nproc`` processes and ``limits.memory_total`` bytes (no swap), or None."""
        parents = isolation.probe().cgroup
        if not {"pids", "memory"} <= set(parents):
            return None
        name, dirs = f"gradlab-{os.getpid()}-{time.monotonic_ns()}", {}
        try:
            for controller, parent in parents.items():
                d = Path(parent) / name
                if d not in dirs.values():
                    d.mkdir()
                dirs[controller] = d
            (dirs["pids"] / "pids.max").write_text(str(limits.nproc))
            mem = dirs["memory"]
            (mem / ("memory.max" if (mem / "memory.max").exists() else "memory.limit_in_bytes")).write_text(
                str(limits.memory_total))
            if (mem / "memory.swap.max").exists():
                (mem / "memory.swap.max").write_text("0")
        except OSError:
            cls(dirs).remove()
            return None
        return cls(dirs)

    def cpu_s(self) -> float | None:
        """CPU seconds (user + system) of every process that has been in the group, the dead included: v1
        ``cpuacct.usage`` (ns), v2 ``cpu.stat`` ``usage_usec``. None without CPU accounting."""
        d = self.dirs.get("cpuacct")
        if d is None:
            return None
        try:
            if (d / "cpuacct.usage").exists():
                return int((d / "cpuacct.usage").read_text()) / 1e9
            stat = dict(line.split(maxsplit=1) for line in (d / "cpu.stat").read_text().splitlines())
            return int(stat["usage_usec"]) / 1e6
        except (OSError, ValueError, KeyError):
            return None

    def joining(self, cmd: list[str]) -> list[str]:
        """``cmd`` run by a shell that first writes its own pid into the group (exit 97 when it cannot), then
        execs: everything ``cmd`` starts is in the group from its first instruction."""
        files = self.procs_files()
        return ["/bin/sh", "-c", JOIN_CGROUP, files[0], *files[1:], "--", *cmd]

    def procs_files(self) -> list[str]:
        return sorted({str(d / "cgroup.procs") for d in self.dirs.values()})

    def pids(self) -> set[int]:
        out = set()
        for f in self.procs_files():
            try:
                out |= {int(x) for x in Path(f).read_text().split()}
            except OSError:
                pass
        return out

    def kill_all(self, timeout: float = 5.0) -> None:
        procs.kill_until_gone(self.pids, timeout, pause=0.01)

    def oom_kills(self) -> int:
        """How many processes the kernel killed here for passing the memory limit (v1 memory.oom_control, v2
        memory.events: ``oom_kill N``)."""
        for name in ("memory.events", "memory.oom_control"):
            try:
                for line in (self.dirs["memory"] / name).read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
            except (OSError, ValueError):
                continue
        return 0

    def memory_failcnt(self) -> int:
        f = self.dirs["memory"] / "memory.failcnt"
        try:
            return int(f.read_text()) if f.exists() else 0
        except (OSError, ValueError):
            return 0

    def remove(self) -> None:
        self.kill_all()
        for d in sorted(set(self.dirs.values()), reverse=True):
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


JOIN_CGROUP = ('for f in "$0" "$@"; do [ "$f" = -- ] && break; echo $$ > "$f" || exit 97; done; '
               'while [ "$1" != -- ]; do shift; done; shift; exec "$@"')  # sh -c JOIN FILE... -- CMD...
