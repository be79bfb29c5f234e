"""Analyzer throughput on synthetic PrusaSlicer-like G-code (not collected by pytest).

    python tests/files/bench_analyzer.py [megabytes]
"""

import hashlib
import random
import sys
import time

from farmctl.files.analysis import GcodeAnalyzer


def synthetic(megabytes: float) -> bytes:
    rng = random.Random(1)
    out = ["G90\nM83\nG28\nM109 S215\nG92 E0\n"]
    size, z = 0, 0.2
    while size < megabytes * 1e6:
        lines = [f";LAYER_CHANGE\n;Z:{z:.2f}\nG1 Z{z:.3f} F720\n;TYPE:Perimeter\nG1 E.8 F2100\n"]
        for i in range(2000):
            if i % 200 == 0:
                lines.append("G1 E-.8 F2100\nG1 X105 Y105 F9000\nG1 E.8 F2100\n;TYPE:Solid infill\n")
            lines.append(f"G1 X{100 + rng.uniform(-40, 40):.3f} Y{100 + rng.uniform(-40, 40):.3f} "
                         f"E{rng.uniform(0.01, 0.9):.5f}\n")
            if i % 50 == 0:
                lines.append("G1 F1800\n")
        text = "".join(lines)
        out.append(text)
        size += len(text)
        z += 0.2
    out.append("; estimated printing time (normal mode) = 1h 2m 3s\n")
    return "".join(out).encode()


def main() -> None:
    data = synthetic(float(sys.argv[1]) if len(sys.argv) > 1 else 50)
    block = 256 * 1024
    best = float("inf")
    for _ in range(3):
        analyzer, sha1 = GcodeAnalyzer(), hashlib.sha1()
        start = time.perf_counter()
        for i in range(0, len(data), block):
            analyzer.feed(data[i:i + block])
            sha1.update(data[i:i + block])
        analyzer.result()
        best = min(best, time.perf_counter() - start)
    print(f"analyzer+sha1: {len(data) / 1e6:.1f} MB in {best:.2f} s = {len(data) / 1e6 / best:.1f} MB/s")


if __name__ == "__main__":
    main()
