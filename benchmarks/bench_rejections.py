"""How fast hostile input is rejected: a billion-laughs YAML bomb and a 50 MB file.

    python benchmarks/bench_rejections.py

Both must fail with a located error well under a second (whole process, `mlopsc validate`).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def bomb() -> str:
    lines = ["apiVersion: mlopsc/v1", "name: bomb", "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return "\n".join(lines + ["labels: *a9"]) + "\n"  # 9**10 (3.5 billion) values if expanded


def _time(path: str, runs: int = 5) -> tuple[float, str]:
    mlopsc = os.path.join(os.path.dirname(sys.executable), "mlopsc")
    times, out = [], ""
    subprocess.run([mlopsc, "validate", path], capture_output=True, env=ENV)
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run([mlopsc, "validate", path], capture_output=True, text=True, env=ENV)
        times.append(time.perf_counter() - start)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        out = proc.stdout.splitlines()[0]
    return statistics.median(times), out


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        bomb_path = os.path.join(tmp, "bomb.yaml")
        with open(bomb_path, "w") as fh:
            fh.write(bomb())
        big_path = os.path.join(tmp, "big.yaml")
        with open(big_path, "wb") as fh:
            fh.write(b"key: value\n" * (50 * 1024 * 1024 // 11))
        rows = [("billion laughs (3.5e9 values if expanded)", *_time(bomb_path)),
                ("50 MB file", *_time(big_path))]
    print("| input (`mlopsc validate`, whole process) | median | first line |")
    print("|---|---|---|")
    for name, seconds, line in rows:
        print(f"| {name} | {seconds * 1000:.0f} ms | `{line.split(': ', 1)[1]}` |")
    return 0 if all(seconds < 1.0 for _, seconds, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
