"""Time one convolution layer three ways: Python loops, im2col plus a matrix product, F.conv2d.

    python -m benchmarks.conv_speed

Input 1x16x64x64, 32 filters of 3x3 (stride 1, no padding), float32 on the CPU. All three
results are checked equal before timing. Writes its table into BENCHMARKS.md between the
conv-speed markers. Target: im2col within 5x of F.conv2d.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.common import cpu_name, write_section
from course_utils import by_hand

START, END = "<!-- conv-speed:start -->", "<!-- conv-speed:end -->"


def best_of(function, repeats: int, rounds: int = 5) -> float:
    """Best mean time per call over several rounds (the least disturbed by other processes)."""
    function()  # warm-up
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            function()
        best = min(best, (time.perf_counter() - start) / repeats)
    return best


def main() -> int:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 64, 64)).astype(np.float32)
    K = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    Xt, Kt = torch.from_numpy(X)[None], torch.from_numpy(K)
    reference = F.conv2d(Xt, Kt)[0].numpy()
    loops_result = by_hand.corr2d_multi_in_out(X, K)
    assert np.allclose(loops_result, reference, atol=1e-3), "loops disagree with F.conv2d"
    assert np.allclose(by_hand.corr2d_im2col(X, K), reference, atol=1e-3), "im2col disagrees with F.conv2d"

    timings = {
        "Python loops (`by_hand.corr2d_multi_in_out`)": best_of(lambda: by_hand.corr2d_multi_in_out(X, K), 1, rounds=1),
        "im2col + one matrix product (`by_hand.corr2d_im2col`)": best_of(lambda: by_hand.corr2d_im2col(X, K), 20),
        "`torch.nn.functional.conv2d`": best_of(lambda: F.conv2d(Xt, Kt), 50),
    }
    conv = timings["`torch.nn.functional.conv2d`"]
    lines = [
        "## One convolution layer three ways",
        "",
        f"`python -m benchmarks.conv_speed`: input 1x16x64x64, 32 filters of 3x3, float32, on "
        f"{torch.get_num_threads()} CPU threads ({cpu_name()}), torch {torch.__version__}, NumPy {np.__version__}. "
        "All three results checked equal to `F.conv2d` first; best of 5 rounds.",
        "",
        "| method | time per call (ms) | relative to F.conv2d |",
        "|---|---:|---:|",
    ]
    for name, seconds in timings.items():
        lines.append(f"| {name} | {seconds * 1000:.3f} | {seconds / conv:.1f}x |")
    ratio = timings["im2col + one matrix product (`by_hand.corr2d_im2col`)"] / conv
    lines += ["", f"Target: im2col within 5x of F.conv2d. Measured: {ratio:.1f}x ({'met' if ratio <= 5 else 'NOT met'})."]
    write_section("\n".join(lines), START, END)
    print("\n".join(lines))
    return 0 if ratio <= 5 else 1


if __name__ == "__main__":
    sys.exit(main())
