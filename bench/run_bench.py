#!/usr/bin/env python3
"""Runs nnx's benchmarks and their peers in one go and writes docs/benchmarks.md and a plot.

    bench/run_bench.py --build build-bench [--repeats 5] [--quick] [--out docs/benchmarks.md]

Every figure is the median of several runs, each in a fresh process, with its spread (min-max);
each ratio compares two figures measured in the same run on the same machine. --quick runs one
short repetition of a subset: the test suite uses it so the benchmarks cannot rot.
"""
import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

CONFIGS = ["tiny", "small", "mnist"]
OPTIMIZERS = ["sgd", "adam"]
THREADS = [1, 2]
SIZES = [1_000_000, 10_000_000, 100_000_000]
BACKENDS = ["deterministic", "portable", "openblas"]  # nnx/compute.hpp; the first is the default
GEMM_SHAPES = [(256, 784, 512), (128, 256, 256), (32, 32, 32)]

# Reference figures of libtorch + OpenBLAS measured earlier on this kind of machine (for orientation).
TARGETS_TRAIN = {("tiny", 1): 10.0, ("small", 1): 2.0, ("small", 2): 1.4, ("mnist", 1): 1.0, ("mnist", 2): 1.0}


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out.stdout


def spread(values):
    return statistics.median(values), min(values), max(values)


def fmt(m, lo, hi, digits=1):
    return f"{m:,.{digits}f} ({lo:,.{digits}f}-{hi:,.{digits}f})"


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    blas = "unknown"
    try:
        q = run(["update-alternatives", "--query", "libblas.so.3-x86_64-linux-gnu"])
        blas = re.search(r"^Value: (.*)$", q, re.M).group(1)
    except Exception:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "kernel": platform.release(), "blas": blas}


def nnx_rate(build, cfg, opt, t, seconds, backend):
    out = subprocess.run([f"{build}/bin/bench_train", cfg, opt, str(t), str(seconds)], check=True, capture_output=True,
                         text=True, env=dict(os.environ, NNX_MATMUL=backend)).stdout.split()
    return float(out[3]) if out[4] == backend else None  # None: this build has no such backend


def train_figures(build, repeats, seconds, configs, optimizers, threads, torch):
    """Rows (config, optimizer, threads, {backend: (median, min, max)}, libtorch's or None)."""
    rows = []
    for cfg in configs:
        for opt in optimizers:
            for t in threads:
                ours, theirs = {b: [] for b in BACKENDS}, []
                for _ in range(repeats):  # alternate, so drift in the machine hits every side alike
                    for backend in BACKENDS:
                        r = nnx_rate(build, cfg, opt, t, seconds, backend)
                        if r is not None:
                            ours[backend].append(r)
                    if torch:
                        theirs.append(float(run([f"{build}/bin/bench_torch_train", cfg, opt, str(t), str(seconds)]).split()[-1]))
                rows.append((cfg, opt, t, {b: spread(v) for b, v in ours.items() if v}, spread(theirs) if theirs else None))
    return rows


GEMM_LINE = re.compile(r"^(\S.*?)\s+([\d.]+) \(([\d.]+)-([\d.]+)\)$")


def gemm_figures(build, repeats, seconds, shapes):
    """{shape: {variant: (median, min, max)}} from bench_gemm, whose rounds interleave the variants."""
    out = {}
    for m, k, n in shapes:
        text = run([f"{build}/bin/bench_gemm", str(m), str(k), str(n), str(repeats), str(seconds)])
        out[(m, k, n)] = {g.group(1): tuple(float(g.group(i)) for i in (2, 3, 4)) for g in map(GEMM_LINE.match, text.splitlines()) if g}
    return out


LINE = re.compile(r"^(.+?)\s+([\d.]+) ms \[([\d.]+), ([\d.]+)\]")


def parse_ms(text):
    return {m.group(1).strip(): tuple(float(m.group(i)) for i in (2, 3, 4)) for m in map(LINE.match, text.splitlines()) if m}


def checkpoint_figures(build, repeats, sizes, torch, work):
    rows = []
    for n in sizes:
        d = os.path.join(work, f"ckpt-{n}")
        fig = parse_ms(run([f"{build}/bin/bench_checkpoint", str(n), d, str(repeats)]))
        if torch:
            fig.update(parse_ms(run([f"{build}/bin/bench_torch_checkpoint", str(n), d, str(repeats)])))
        shutil.rmtree(d, ignore_errors=True)
        rows.append((n, fig))
    return rows


def interop_figures(build, repeats, params, work):
    d = os.path.join(work, "interop")
    fig = parse_ms(run([f"{build}/bin/bench_interop", str(params), d, str(repeats)]))
    shutil.rmtree(d, ignore_errors=True)
    return params, fig


def svg_plot(train_rows, ckpt_rows, path):
    """A bar chart of the ratios nnx / peer (higher is better for nnx), one bar per measurement."""
    bars = [(f"{c} {o} {t}t" + ("" if b == BACKENDS[0] else f" {b}"), ours[b][0] / theirs[0])
            for b in ("deterministic", "openblas") for c, o, t, ours, theirs in train_rows if theirs and b in ours]
    for n, fig in ckpt_rows:
        label = f"{n // 1_000_000}M"
        if "write+fsync (plain)" in fig:
            bars.append((f"save {label} vs write", fig["write+fsync (plain)"][0] / fig["nnx save (sync)"][0]))
            bars.append((f"restore {label} vs read", fig["read (plain)"][0] / fig["nnx restore (checked)"][0]))
        if "torch::save+fsync" in fig:
            bars.append((f"save {label} vs torch", fig["torch::save+fsync"][0] / fig["nnx save (sync)"][0]))
            bars.append((f"restore {label} vs torch", fig["torch::load"][0] / fig["nnx restore (checked)"][0]))
    if not bars:
        return False
    width, bar_h, left = 760, 18, 190
    height = 60 + bar_h * len(bars)
    top = max(max(v for _, v in bars), 1.0)
    scale = (width - left - 80) / top
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="20" font-size="14">nnx speed relative to its peer (1.0 = equal; higher is faster)</text>']
    one = left + scale
    for i, (label, v) in enumerate(bars):
        y = 40 + i * bar_h
        colour = "#2a7ab0" if v >= 1 else "#c0504d"
        out.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{label}</text>')
        out.append(f'<rect x="{left}" y="{y + 2}" width="{v * scale:.1f}" height="{bar_h - 5}" fill="{colour}"/>')
        out.append(f'<text x="{left + v * scale + 4:.1f}" y="{y + 12}">{v:.2f}x</text>')
    out.append(f'<line x1="{one:.1f}" y1="32" x2="{one:.1f}" y2="{height - 8}" stroke="#444" stroke-dasharray="3,3"/>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return True


def ratio(ours, theirs, backend):
    return ours[backend][0] / theirs[0] if theirs and backend in ours else None


def report(args, info, train_rows, gemm_rows, ckpt_rows, memory, torch, interop):
    L = ["# Benchmarks", "",
         "Generated by `./run.sh bench` (bench/run_bench.py); do not edit by hand. Each figure is the median of "
         f"{args.repeats} runs with the spread (min-max) in parentheses; each ratio compares figures measured in "
         "the same run on the same machine. Timing never decides a test: these machines are shared and noisy.", "",
         "## The machine", "",
         f"- CPU: {info['cpu']}, {info['cores']} cores; memory {info['memory']}; Linux {info['kernel']}",
         "- nnx: the deterministic FMA GEMM (one fused multiply-add chain per output in increasing k: bitwise the same "
         "results on every machine, docs/determinism.md) on its fastest path for this CPU, Release build (-O3), "
         "its own row-split threading (OpenMP)",
         f"- libtorch {'1.13 (Debian libtorch-dev) with BLAS ' + info['blas'] if torch else 'not built (run ./run.sh bench)'}",
         "", "![ratios](benchmarks.svg)", "", "## Training throughput (steps/s)", "",
         "| config | optimizer | threads | " + " | ".join(f"nnx ({b})" for b in BACKENDS) + " | libtorch | " +
         " | ".join(f"ratio {b}" for b in BACKENDS) + " |",
         "|---|---|---|" + "---|" * (2 * len(BACKENDS) + 1)]
    for cfg, opt, t, ours, theirs in train_rows:
        figs = " | ".join(fmt(*ours[b]) if b in ours else "-" for b in BACKENDS)
        ratios = " | ".join(f"{ratio(ours, theirs, b):.2f}x" if ratio(ours, theirs, b) else "-" for b in BACKENDS)
        L.append(f"| {cfg} | {opt} | {t} | {figs} | {fmt(*theirs) if theirs else '-'} | {ratios} |")
    L += ["", "Configs: tiny 4-32-32-2 batch 32; small 64-256-256-10 batch 128; mnist 784-512-512-10 batch 256. "
          "Same initial parameters (nnx's, copied into torch), data, loss (softmax cross-entropy) and optimizer "
          "hyper-parameters on both sides. nnx's matmul backends (nnx/compute.hpp): deterministic = one FMA chain "
          "per output, bitwise identical on every machine, path and thread count (the default); portable = Eigen "
          "SSE2, bitwise identical on every x86-64 machine (the default up to nnx 0.1); openblas = the same OpenBLAS "
          "libtorch uses, reproducible on one machine for a fixed thread count only.", "",
          "## Matrix products (GFLOP/s, float32, 1 thread)", "",
          "bench_gemm: every variant measured in turn in each round (interleaved); nnx::matmul, output allocation "
          "included. The deterministic paths give the same bits; which one runs is chosen by cpuid (NNX_FMA_PATH).", "",
          "| M x K x N | " + " | ".join(next(iter(gemm_rows.values()), {}).keys()) + " |",
          "|---|" + "---|" * len(next(iter(gemm_rows.values()), {}))]
    for (m, k, n), figs in gemm_rows.items():
        L.append(f"| {m} x {k} x {n} | " + " | ".join(fmt(*v) for v in figs.values()) + " |")
    L += ["", "## Checkpoints (ms)", "",
          "| parameters | write+fsync | nnx save | torch::save+fsync | save() blocks (async) | read | nnx restore | torch::load | nnx verify |",
          "|---|---|---|---|---|---|---|---|---|"]
    for n, fig in ckpt_rows:
        g = lambda k: fmt(*fig[k], digits=2) if k in fig else "-"
        L.append(f"| {n:,} | {g('write+fsync (plain)')} | {g('nnx save (sync)')} | {g('torch::save+fsync')} | "
                 f"{g('nnx save() blocks (async)')} | {g('read (plain)')} | {g('nnx restore (checked)')} | "
                 f"{g('torch::load')} | {g('nnx verify')} |")
    L += ["", "Plain write/read: the same bytes with write(2)+fsync / read(2) into fresh buffers (the machine's limit). "
          "nnx restore reads into the abstract target's new buffers and verifies every XXH3 checksum. "
          "Async: save() takes an O(1) copy-on-write snapshot; the write happens on a background thread.", "",
          "## Export and import (ms)", "",
          f"bench_interop, {interop[0]:,} float32 parameters, interleaved rounds; each write's old file is removed "
          "before it is timed, and every read fills fresh buffers that stay alive (as an import's State does).", "",
          "| write+fsync | save_safetensors | save_npz | read | load_safetensors | load_npz |", "|---|---|---|---|---|---|",
          "| " + " | ".join(fmt(*interop[1][k], digits=1) if k in interop[1] else "-" for k in
                           ("write+fsync (plain)", "save_safetensors", "save_npz", "read (plain)", "load_safetensors",
                            "load_npz")) + " |", "",
          "npz is a zip: every byte goes through CRC-32 (libzip, zlib's crc32) on both sides, which safetensors does "
          "not ask for; safetensors is the exchange format to use when speed matters.", "",
          "## Memory", "", "```", memory.strip(), "```", "", "## Targets", "", "| target | figure | met |", "|---|---|---|"]
    for cfg, opt, t, ours, theirs in train_rows:
        if opt == "sgd" and (cfg, t) in TARGETS_TRAIN and theirs:
            rs = {b: ratio(ours, theirs, b) for b in BACKENDS if b in ours}
            goal = TARGETS_TRAIN[(cfg, t)]
            L.append(f"| training {cfg} sgd {t} thread(s) >= {goal}x libtorch | " +
                     ", ".join(f"{b} {r:.2f}x" for b, r in rs.items()) + f" | {'yes' if max(rs.values()) >= goal else 'NO'} |")
    for n, fig in ckpt_rows:
        if n != max(s for s, _ in ckpt_rows):
            continue
        s = fig["nnx save (sync)"][0] / fig["write+fsync (plain)"][0]
        r = fig["nnx restore (checked)"][0] / fig["read (plain)"][0]
        a = fig["nnx save() blocks (async)"][0] / fig["nnx save (sync)"][0]
        L.append(f"| save within 1.1x of write+fsync ({n:,} params) | {s:.2f}x | {'yes' if s <= 1.1 else 'NO'} |")
        L.append(f"| restore with checksums within 1.25x of read ({n:,} params) | {r:.2f}x | {'yes' if r <= 1.25 else 'NO'} |")
        L.append(f"| async save blocks <= 10% of a sync save | {100 * a:.3f}% | {'yes' if a <= 0.1 else 'NO'} |")
    n, f = interop
    for name, plain, ours in (("export (save_safetensors)", "write+fsync (plain)", "save_safetensors"),
                              ("import (load_safetensors)", "read (plain)", "load_safetensors")):
        if plain in f and ours in f:
            r = f[ours][0] / f[plain][0]
            L.append(f"| {name} within 1.2x of the plain operation ({n:,} params) | {r:.2f}x | {'yes' if r <= 1.2 else 'NO'} |")
    m = re.search(r"([\d.]+) ms, (\d+) bytes allocated", memory)
    if m:
        L.append(f"| eval_shape of 1e9 parameters < 1 MB and < 10 ms | {int(m.group(2)):,} bytes, {float(m.group(1)):.3f} ms | "
                 f"{'yes' if int(m.group(2)) < 1e6 and float(m.group(1)) < 10 else 'NO'} |")
    m = re.search(r"([\d.]+)x the state's size", memory)
    if m:
        L.append(f"| restore peak memory <= 1.2x the state | {float(m.group(1)):.3f}x | {'yes' if float(m.group(1)) <= 1.2 else 'NO'} |")
    return "\n".join(L) + "\n"


def distributed_section(build, repeats, seconds, quick):
    """Markdown lines: data-parallel steps/s of the mnist MLP (global batch 256, SGD, 1 thread per process)
    under mpirun at 1 and 2 processes — nnx's exact, gather and fast reductions — and PyTorch DDP (gloo)."""
    L = ["", "## Data-parallel training over MPI (steps/s)", ""]
    mpirun = shutil.which("mpirun")
    if not mpirun or not os.path.exists(f"{build}/bin/bench_distributed"):
        return L + ["Not measured: needs mpirun (openmpi-bin) and bench_distributed (libopenmpi-dev)."]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    # CMA single-copy off: measured slower in this VM (a 5.4 MB allreduce 1.3 -> 0.5 ms) and refused in
    # containers that forbid ptrace.
    launch = [mpirun, "--oversubscribe", "--mca", "btl_vader_single_copy_mechanism", "none"] + \
        (["--allow-run-as-root"] if os.geteuid() == 0 else [])
    secs = str(max(seconds, 0.05))
    has_torch = not quick and subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True).returncode == 0
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_ddp.py")
    runs = [("exact", 8)] if quick else [("exact", 8), ("gather", 8), ("fast", 8), ("exact", 2), ("fast", 2), ("plain", 1)]
    figs, sent = {}, {}
    for _ in range(repeats):  # alternate, so drift in the machine hits every side alike
        for np_ in (1, 2):
            for mode, shards in runs:
                if mode == "plain" and np_ == 2:
                    continue
                out = subprocess.run(launch + ["-np", str(np_), f"{build}/bin/bench_distributed", mode, str(shards), secs],
                                     check=True, capture_output=True, text=True, env=env).stdout.split()
                figs.setdefault((mode, shards, np_), []).append(float(out[3]))
                sent[(mode, shards)] = int(out[4]) or sent.get((mode, shards), 0)
            if has_torch:  # gloo's rendezvous occasionally fails on a busy machine: one retry, then no figure
                for _attempt in range(2):
                    done = subprocess.run(["/usr/bin/python3", script, str(np_), secs], capture_output=True, text=True)
                    if done.returncode == 0:
                        figs.setdefault(("torch", 2, np_), []).append(float(done.stdout.split()[-1]))
                        break
                    print(f"torch_ddp.py {np_}: {done.stderr.strip()[-300:]}", file=sys.stderr)
    names = {"exact": "nnx exact (int64 fixed point, 1 allreduce)", "gather": "nnx gather (S shard gradients, summed in order)",
             "fast": "nnx fast (float allreduce)", "plain": "nnx train_step, whole batch (no sharding)",
             "torch": "PyTorch DDP (gloo), 128 rows per rank"}
    L += ["The 784-512-512-10 MLP, global batch 256 cut into S shards, SGD, one thread per process, `mpirun -np N` on "
          "this machine (bench/distributed_throughput.cpp; the peer bench/torch_ddp.py). exact and gather give the same "
          "bits at every number of processes up to S; fast and DDP do not. Speed-ups on a 2-core machine shared with "
          "other work are a lower bound: a second process competes with everything else running.", "",
          "| reduction | S | 1 process | 2 processes | speed-up | bytes sent per rank per step |", "|---|---|---|---|---|---|"]
    for mode, shards in runs + ([("torch", 2)] if has_torch else []):
        one, two = figs.get((mode, shards, 1)), figs.get((mode, shards, 2))
        up = f"{statistics.median(two) / statistics.median(one):.2f}x" if one and two else "-"
        b = sent.get((mode, shards))
        L.append(f"| {names[mode]} | {shards if mode != 'plain' else '-'} | {fmt(*spread(one)) if one else '-'} | "
                 f"{fmt(*spread(two)) if two else '-'} | {up} | {f'{b / 1e6:.1f} MB' if b else '-'} |")
    if ("fast", 8, 2) in figs:
        med = {k: statistics.median(v) for k, v in figs.items()}
        up = med[("exact", 8, 2)] / med[("exact", 8, 1)]
        L += ["", f"- the deterministic reduction at 2 processes, S = 8: {med[('exact', 8, 2)] / med[('fast', 8, 2)]:.2f}x "
                  f"fast's speed (gather: {med[('gather', 8, 2)] / med[('fast', 8, 2)]:.2f}x)",
              f"- sharding: one process with S = 8 runs at {med[('exact', 8, 1)] / med[('plain', 1, 1)]:.2f}x the speed of one "
              "train_step over the whole batch (each shard's weight gradient is a GEMM with inner dimension 32)",
              f"- speed-up of 2 processes over 1, deterministic (S = 8): {up:.2f}x (goal >= 1.7x: {'yes' if up >= 1.7 else 'NO'})"]
    return L

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default="build-bench")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--quick", action="store_true", help="one short run of a subset (a smoke test)")
    p.add_argument("--out", default="docs/benchmarks.md")
    a = p.parse_args()
    if a.quick:
        a.repeats, a.seconds = 1, 0.05
    torch = os.path.exists(f"{a.build}/bin/bench_torch_train")
    work = tempfile.mkdtemp(prefix="nnx-bench-")
    try:
        info = machine()
        configs, opts, threads, sizes = (["tiny"], ["sgd"], [1], [100_000]) if a.quick else (CONFIGS, OPTIMIZERS, THREADS, SIZES)
        train_rows = train_figures(a.build, a.repeats, a.seconds, configs, opts, threads, torch)
        gemm_rows = gemm_figures(a.build, a.repeats, a.seconds / 5, GEMM_SHAPES[-1:] if a.quick else GEMM_SHAPES)
        ckpt_rows = checkpoint_figures(a.build, max(a.repeats, 1), sizes, torch, work)
        memory = run([f"{a.build}/bin/bench_memory", str(sizes[-1]), os.path.join(work, "mem")])
        interop = interop_figures(a.build, max(a.repeats, 1), 100_000 if a.quick else 100_000_000, work)
        text = report(a, info, train_rows, gemm_rows, ckpt_rows, memory, torch, interop)
        text += "\n".join(distributed_section(a.build, a.repeats, a.seconds, a.quick)) + "\n"
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out, "w") as f:
            f.write(text)
        svg_plot(train_rows, ckpt_rows, os.path.join(os.path.dirname(os.path.abspath(a.out)), "benchmarks.svg"))
        print(text)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
