"""Whole-process timing shared by the benchmark scripts: one warm-up run (OS cache, bytecode),
then `runs` timed runs; a failing command stops the benchmark with its stderr."""

from __future__ import annotations

import subprocess
import time


def time_process(argv: list[str], runs: int, cwd: str, env: dict[str, str]) -> list[float]:
    subprocess.run(argv, cwd=cwd, capture_output=True, env=env, check=False)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, env=env, check=False)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"{argv} failed: {proc.stderr.decode()}")
    return times
