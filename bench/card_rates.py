"""The card's dense fp16 matmul rate and device copy bandwidth, measured with torch: the rates
SPEC §8 holds fkm against, for fkm bench's --peak-tflops and --copy-tbps.

usage: python3 bench/card_rates.py [OUT.json]

Prints the two options with their values on one line, ready to pass to fkm bench, and writes
OUT.json {device, fp16_tflops, copy_tbps} when given. Each rate is the best of five timed windows
(CUDA events): twenty 8192³ fp16 matmuls; ten copies of 2 GiB from device to device, counting the
bytes read plus written, as SPEC §8's 2.97 TB/s does.
"""
import json
import sys

import torch


def best_ms(fn, count, windows=5):
    """The shortest of `windows` event-timed windows of `count` calls of fn, after a warm-up."""
    fn()
    best = float("inf")
    for _ in range(windows):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(count):
            fn()
        end.record()
        torch.cuda.synchronize()
        best = min(best, start.elapsed_time(end))
    return best


def fp16_matmul_tflops():
    a = torch.randn(8192, 8192, dtype=torch.float16, device="cuda")
    b = torch.randn(8192, 8192, dtype=torch.float16, device="cuda")
    return 20 * 2 * 8192**3 / (best_ms(lambda: a @ b, 20) * 1e-3) / 1e12


def copy_tbps():
    src = torch.empty(1 << 31, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    return 10 * 2 * src.numel() / (best_ms(lambda: dst.copy_(src), 10) * 1e-3) / 1e12


def main():
    rates = {"device": torch.cuda.get_device_name(0), "fp16_tflops": fp16_matmul_tflops(),
             "copy_tbps": copy_tbps()}
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            json.dump(rates, f, indent=1)
    print(f"--peak-tflops {rates['fp16_tflops']:.1f} --copy-tbps {rates['copy_tbps']:.3f}")


if __name__ == "__main__":
    main()
