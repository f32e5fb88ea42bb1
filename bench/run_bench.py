#!/usr/bin/env python3
"""Runs nnx's benchmarks and their peers in one go and writes docs/benchmarks.md and a plot.

    bench/run_bench.py --build build-bench [--repeats 5] [--seconds 1.25] [--quick] [--out docs/benchmarks.md]

Every figure is the median of several runs, each in a fresh process, with its spread (min-max);
each ratio compares two figures measured in the same run on the same machine, in interleaved rounds.
--quick runs one short repetition of a subset: the test suite uses it so the benchmarks cannot rot.
For a shortened run of everything (to check the report, not for figures): --repeats 2 --seconds 0.2.
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

import bench_report

CONFIGS = ["tiny", "small", "mnist"]
OPTIMIZERS = ["sgd", "adam"]
THREADS = [1, 2]
SIZES = [1_000_000, 10_000_000, 100_000_000]
GEMM_SHAPES = [(256, 784, 512), (128, 256, 256), (32, 32, 32)]

NO_TRIM = bench_report.NO_TRIM  # libtorch with glibc's malloc keeping what it frees
# OpenBLAS 0.3.21 runs its Haswell kernels on AMD Zen 4/5; its SkylakeX (AVX-512) kernels are faster there.
SKYLAKEX = {"OPENBLAS_CORETYPE": "SkylakeX"}
# Every training run of a round, in this order: (label, program, environment). The first is nnx's
# default; libtorch as shipped, with NO_TRIM, and with NO_TRIM and SkylakeX; ratios are against the
# fastest libtorch. Runs forcing SkylakeX need AVX-512.
RUNS = [
    ("nnx deterministic", "bench_train", {"NNX_MATMUL": "deterministic"}),
    ("nnx portable", "bench_train", {"NNX_MATMUL": "portable"}),
    ("nnx openblas", "bench_train", {"NNX_MATMUL": "openblas"}),
    ("nnx openblas SkylakeX", "bench_train", {"NNX_MATMUL": "openblas", **SKYLAKEX}),
    ("torch", "bench_torch_train", {}),
    ("torch no-trim", "bench_torch_train", {"GLIBC_TUNABLES": NO_TRIM}),
    ("torch no-trim SkylakeX", "bench_torch_train", {"GLIBC_TUNABLES": NO_TRIM, **SKYLAKEX}),
]
# Runs inherit the environment (OpenBLAS settings included: as this machine's users run) but for
# what the runs above set.
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("NNX_MATMUL", "GLIBC_TUNABLES")}


def run(cmd, env=None):
    return subprocess.run([str(c) for c in cmd], check=True, capture_output=True, text=True,
                          env=dict(CLEAN_ENV, **(env or {}))).stdout


def spread(values):
    return statistics.median(values), min(values), max(values)


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            return set(next(line for line in f if line.startswith("flags")).split(":", 1)[1].split())
    except (OSError, StopIteration):
        return set()


def has_avx512():
    return {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= cpu_flags()


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line for line in f if line.startswith("model name")).split(":", 1)[1].strip()
    except (OSError, StopIteration):
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
        blas += " (OpenBLAS " + run(["dpkg-query", "-W", "-f=${Version}", "libopenblas0-openmp"]).strip() + ")"
    except Exception:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "kernel": platform.release(), "blas": blas,
            "blas_env": " ".join(f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("OPENBLAS_"))}


def own_kernel(build):
    """The kernel OpenBLAS picks for this CPU when no OPENBLAS_CORETYPE forces one."""
    env = dict(CLEAN_ENV, NNX_MATMUL="openblas")
    env.pop("OPENBLAS_CORETYPE", None)
    out = subprocess.run([f"{build}/bin/bench_train", "tiny", "sgd", "1", "0.01"], capture_output=True, text=True, env=env)
    return out.stdout.split()[-1] if out.returncode == 0 and out.stdout.strip() else "-"


def training_run(build, program, env, cfg, opt, t, seconds):
    """(steps/s, OpenBLAS kernel), or None when this build has no such nnx backend."""
    out = run([f"{build}/bin/{program}", cfg, opt, t, seconds], env).split()
    if "NNX_MATMUL" in env and out[4] != env["NNX_MATMUL"]:
        return None
    return float(out[3]), out[-1]


def train_figures(build, repeats, seconds, cells, runs):
    """Rows (config, optimizer, threads, {label: (median, min, max)}) and {label: OpenBLAS kernel}."""
    rows, kernels = [], {}
    for cfg, opt, t in cells:
        rates = {}
        for _ in range(repeats):  # interleaved, so drift in the machine hits every run alike
            for label, program, env in runs:
                r = training_run(build, program, env, cfg, opt, t, seconds)
                if r:
                    rates.setdefault(label, []).append(r[0])
                    kernels[label] = r[1]
        rows.append((cfg, opt, t, {label: spread(v) for label, v in rates.items()}))
    return rows, kernels


PEAK_LINE = re.compile(r"^(\S.*?)\s+([\d.]+) \(([\d.]+)-([\d.]+)\)$")


def peak_figures(build, repeats, threads):
    """{threads: (median, min, max, ISA)}: bench_peak's fastest ISA, all threads busy."""
    peaks = {}
    for t in threads:
        lines = [g for g in map(PEAK_LINE.match, run([f"{build}/bin/bench_peak", t, repeats, 0.3]).splitlines()) if g]
        best = max(lines, key=lambda g: float(g.group(2)))
        peaks[t] = (*(float(best.group(i)) for i in (2, 3, 4)), best.group(1))
    return peaks


def gemm_figures(build, repeats, seconds, shapes):
    """{shape: {variant: (median, min, max)}} from bench_gemm, whose rounds interleave the variants;
    OpenBLAS's SkylakeX kernel from a second run (the kernel is chosen when the library loads)."""
    out = {}
    for m, k, n in shapes:
        def measure(env=None):
            text = run([f"{build}/bin/bench_gemm", m, k, n, repeats, seconds], env)
            return {g.group(1): tuple(float(g.group(i)) for i in (2, 3, 4)) for g in map(PEAK_LINE.match, text.splitlines()) if g}
        out[(m, k, n)] = measure()
        if "openblas" in out[(m, k, n)] and has_avx512():
            out[(m, k, n)]["openblas (SkylakeX)"] = measure(SKYLAKEX)["openblas"]
    return out


LINE = re.compile(r"^(.+?)\s+([\d.]+) ms \[([\d.]+), ([\d.]+)\]")


def parse_ms(text):
    return {m.group(1).strip(): tuple(float(m.group(i)) for i in (2, 3, 4)) for m in map(LINE.match, text.splitlines()) if m}


def interleaved(repeats, jobs):
    """{name: (median, min, max)} over `repeats` rounds, each running every job (a command) once in turn."""
    ms = {}
    for _ in range(repeats):
        for cmd in jobs:
            for name, figure in parse_ms(run(cmd)).items():
                ms.setdefault(name, []).append(figure[0])
    return {name: spread(v) for name, v in ms.items()}


def disk_figures(build, repeats, params, work, programs, cold_reads_of):
    """(warm, cold) figures of the disk benchmarks `programs`, each side by side in interleaved rounds:
    warm, a process per round that times its second repeat; cold, the files written once, then a
    fresh process per read."""
    d = os.path.join(work, f"disk-{params}")
    warm = interleaved(repeats, [[f"{build}/bin/{p}", params, d, "warm", 1] for p in programs])
    for p in programs:
        run([f"{build}/bin/{p}", params, d, "write"])
    cold = interleaved(repeats, [[f"{build}/bin/{p}", params, d, "cold", which] for p in programs for which in cold_reads_of[p]])
    shutil.rmtree(d, ignore_errors=True)
    return warm, cold


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
        L.append(f"| {names[mode]} | {shards if mode != 'plain' else '-'} | {bench_report.fmt(*spread(one)) if one else '-'} | "
                 f"{bench_report.fmt(*spread(two)) if two else '-'} | {up} | {f'{b / 1e6:.1f} MB' if b else '-'} |")
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
    p.add_argument("--seconds", type=float, default=1.25, help="per training run")
    p.add_argument("--quick", action="store_true", help="one short run of a subset (a smoke test)")
    p.add_argument("--out", default="docs/benchmarks.md")
    a = p.parse_args()
    if a.quick:
        a.repeats, a.seconds = 1, 0.05
    torch = os.path.exists(f"{a.build}/bin/bench_torch_train")
    runs = [r for r in RUNS if (torch or r[1] != "bench_torch_train") and (has_avx512() or r[2].get("OPENBLAS_CORETYPE") is None)]
    work = tempfile.mkdtemp(prefix="nnx-bench-")
    try:
        configs, opts, threads, sizes = (["tiny"], ["sgd"], [1], [100_000]) if a.quick else (CONFIGS, OPTIMIZERS, THREADS, SIZES)
        cells = [(c, o, t) for c in configs for o in opts for t in threads]
        train_rows, kernels = train_figures(a.build, a.repeats, a.seconds, cells, runs)
        peaks = peak_figures(a.build, a.repeats, threads)
        gemm_rows = gemm_figures(a.build, a.repeats, a.seconds / 5, GEMM_SHAPES[-1:] if a.quick else GEMM_SHAPES)
        ckpt_programs = ["bench_checkpoint"] + (["bench_torch_checkpoint"] if torch else [])
        ckpt_rows = [(n, *disk_figures(a.build, a.repeats, n, work, ckpt_programs,
                                       {"bench_checkpoint": ["read", "restore"], "bench_torch_checkpoint": ["load"]}))
                     for n in sizes]
        memory = run([f"{a.build}/bin/bench_memory", sizes[-1], os.path.join(work, "mem")])
        interop_params = 100_000 if a.quick else 100_000_000
        interop = (interop_params, *disk_figures(a.build, a.repeats, interop_params, work, ["bench_interop"],
                                                 {"bench_interop": ["read", "load_safetensors", "load_npz"]}))
        info = dict(machine(), own_kernel=own_kernel(a.build))
        figures = bench_report.Figures(a.repeats, a.seconds, info, [r[0] for r in runs], kernels, train_rows, peaks,
                                       gemm_rows, ckpt_rows, memory, torch, interop)
        text = bench_report.markdown(figures)
        text += "\n".join(distributed_section(a.build, a.repeats, a.seconds, a.quick)) + "\n"
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out, "w") as f:
            f.write(text)
        bench_report.svg_plot(figures, os.path.join(os.path.dirname(os.path.abspath(a.out)), "benchmarks.svg"))
        print(text)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
