"""The attack suite of SANDBOX.md (issue 8): one module per attack family.

``catalogue.py`` holds every attack as data (its source, the outcome each tier promises, what a tier cannot
promise and why); ``health.py`` the machine-health checks; ``conftest.py`` the fixtures and the runner. Each
attack runs at tier A by default, and at forced lower tiers (``check(..., tier="C")``): cheap ones in the
default run, heavy ones behind ``-m slow``. benchmarks/attacks.py runs the same catalogue and writes the
outcome table (benchmarks/results/attacks.md) that README shows.

A known shortfall of the sandbox goes into an attack's ``gap`` (a strict expected failure, so that its fix
shows up). The suite found one, since fixed: at tier A the cgroup's OOM killer killed one child of a run
over its total memory, and the run ended at the wall clock as a "time-out"; sandbox.py now ends the run at
the first OOM kill and reports ``memory_limit``.
"""
