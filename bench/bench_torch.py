#!/usr/bin/python3
"""The PyTorch side of `make bench`: one workload per call, named as in
bench/bench.lua, timed the same way (median of 5 timings of enough repetitions
for 0.2 s). Prints "seconds S" (peak RSS in MiB for rss_* workloads).

Tuned as an expert would on this machine: 2 threads, OpenBLAS single-threaded
(the caller sets OPENBLAS_NUM_THREADS=1), no autograd where none is needed.
"""
import gzip
import os
import resource
import statistics
import subprocess
import sys
import time

QUICK = len(sys.argv) > 2 and sys.argv[2] == "quick"


def timed(fn):
    fn()
    t0 = time.perf_counter()
    fn()
    once = time.perf_counter() - t0
    reps = max(1, int(0.2 / max(once, 1e-6)))
    if QUICK:
        reps = max(1, reps // 4)
    runs = []
    for _ in range(3 if QUICK else 5):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        runs.append((time.perf_counter() - t0) / reps)
    return statistics.median(runs)


def fashion_train():
    import numpy as np
    import torch
    d = "/usr/share/datasets/fashion-mnist"
    with gzip.open(d + "/train-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(d + "/train-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return torch.from_numpy(x.astype(np.float32) / 255), torch.from_numpy(y.astype(np.int64))


def lenet(nn):
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5),
                         nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120),
                         nn.ReLU(inplace=True), nn.Linear(120, 84), nn.ReLU(inplace=True), nn.Linear(84, 10))


def small_cnn(nn):
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(32, 32, 3, padding=1),
                         nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(64 * 7 * 7, 128), nn.ReLU(inplace=True), nn.Linear(128, 10))


def train_steps(torch, nn, build, steps):
    """Seconds per step: the median of 5 runs of steps steps after 5 of warm-up (as bench.lua)."""
    x, y = fashion_train()
    model = build(nn)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    crit = nn.CrossEntropyLoss()
    perm = torch.randperm(x.shape[0])
    batches = [(x[perm[i:i + 64]], y[perm[i:i + 64]]) for i in range(0, 64 * (5 * steps + 5), 64)]

    def step(b):
        opt.zero_grad()
        loss = crit(model(b[0]), b[1])
        loss.backward()
        opt.step()

    for b in batches[:5]:
        step(b)
    runs = []
    for r in range(5):
        t0 = time.perf_counter()
        for b in batches[5 + r * steps:5 + (r + 1) * steps]:
            step(b)
        runs.append((time.perf_counter() - t0) / steps)
    return statistics.median(runs)


CONVS = {"a": (64, 1, 6, 5, 2, 28), "b": (64, 6, 16, 5, 0, 14), "c": (32, 64, 64, 3, 1, 32),
         "d": (32, 128, 128, 3, 1, 16), "e": (32, 64, 128, 1, 0, 32), "f": (1, 64, 64, 3, 1, 56)}


def main():
    key = sys.argv[1]
    if key == "startup":
        runs = []
        for _ in range(5):
            t0 = time.perf_counter()
            subprocess.run(["/usr/bin/python3", "-c", "import torch"], check=True)
            runs.append(time.perf_counter() - t0)
        print("seconds", statistics.median(runs))
        return
    import torch
    import torch.nn as nn
    torch.set_num_threads(2)
    torch.manual_seed(0)
    if key.startswith("conv_"):
        _, name, mode = key.split("_")
        n, c, k, r, pad, h = CONVS[name]
        x = torch.randn(n, c, h, h, requires_grad=(mode == "fwdbwd" and name != "a"))
        conv = nn.Conv2d(c, k, r, padding=pad)
        if mode == "fwd":
            with torch.no_grad():
                print("seconds", timed(lambda: conv(x)))
        else:
            y = conv(x)
            dy = torch.randn_like(y)
            print("seconds", timed(lambda: conv(x).backward(dy)))
    elif key == "maxpool":
        x = torch.randn(32, 64, 32, 32, requires_grad=True)
        dy = torch.randn(32, 64, 16, 16)
        print("seconds", timed(lambda: torch.nn.functional.max_pool2d(x, 2).backward(dy)))
    elif key == "batchnorm":
        x = torch.randn(32, 64, 32, 32, requires_grad=True)
        bn = nn.BatchNorm2d(64)
        dy = torch.randn(32, 64, 32, 32)
        print("seconds", timed(lambda: bn(x).backward(dy)))
    elif key == "relu":
        x = torch.randn(32, 64, 32, 32, requires_grad=True)
        dy = torch.randn(32, 64, 32, 32)
        print("seconds", timed(lambda: torch.relu(x).backward(dy)))
    elif key == "train_lenet":
        print("seconds", train_steps(torch, nn, lenet, 4 if QUICK else 20))
    elif key == "train_cnn":
        print("seconds", train_steps(torch, nn, small_cnn, 1 if QUICK else 4))
    elif key.startswith("infer_"):
        _, which, batch = key.split("_")
        if which == "cnn" and batch == "1":
            torch.set_num_threads(1)
        model = (lenet if which == "lenet" else small_cnn)(nn).eval()
        x = torch.rand(int(batch), 1, 28, 28)
        with torch.no_grad():
            print("seconds", timed(lambda: model(x)))
    elif key.startswith("rss_"):
        train_steps(torch, nn, lenet if key == "rss_lenet" else small_cnn, 6)
        print("seconds", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    else:
        sys.exit("unknown workload " + key)


if __name__ == "__main__":
    main()
