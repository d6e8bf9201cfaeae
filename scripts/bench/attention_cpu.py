"""Where the CPU flash-attention kernel beats the plain form (matmul, softmax, matmul), forward + backward, per
precision: the figures behind native/src/attention.cpp's cpu_flash_from_length.
  build/pyenv/bin/python scripts/bench/attention_cpu.py [--threads 2] [--reps 5]"""
import argparse
import time

import torch
import torch.nn.functional as F


def plain(q, k, v, bias):
    scores = (q @ k.transpose(-1, -2)) * (q.size(-1) ** -0.5) + bias
    return scores.softmax(-1) @ v


def flash(q, k, v, bias):
    return F.scaled_dot_product_attention(q, k, v, bias)


def median_ms(fn, dtype, rows, length, reps):
    q, k, v = (torch.randn(rows, 12, length, 32, dtype=dtype, requires_grad=True) for _ in range(3))
    bias = torch.zeros(rows, 1, 1, length, dtype=dtype)
    grad = torch.randn(rows, 12, length, 32, dtype=dtype)
    times = []
    for _ in range(reps + 1):  # the first is a warm-up
        t = time.perf_counter()
        fn(q, k, v, bias).backward(grad)
        times.append(time.perf_counter() - t)
    times = sorted(times[1:])
    return 1000 * times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {a.threads} threads, 12 heads of 32, fwd + bwd, median of {a.reps}")
    print("| dtype | rows x length | plain ms | flash ms |\n|---|---|---|---|")
    for dtype in (torch.float32, torch.bfloat16):
        for rows, length in ((16, 64), (32, 64), (16, 128), (32, 128), (8, 256), (4, 512), (2, 1024)):
            p, f = median_ms(plain, dtype, rows, length, a.reps), median_ms(flash, dtype, rows, length, a.reps)
            print(f"| {str(dtype).split('.')[-1]} | {rows} x {length} | {p:.1f} | {f:.1f} |")


if __name__ == "__main__":
    main()
