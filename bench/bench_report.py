"""docs/benchmarks.md and docs/benchmarks.svg from the figures bench/run_bench.py measured."""
import math
import re
from dataclasses import dataclass

# The layer widths and batch of each training config (bench/configs.hpp), for the FLOP of a step.
LAYERS = {"tiny": ([4, 32, 32, 2], 32), "small": ([64, 256, 256, 10], 128), "mnist": ([784, 512, 512, 10], 256)}
# glibc's malloc set to keep what it frees: no trimming, and no mmap for blocks under 32 MiB (the
# most glibc allows). With glibc's defaults libtorch hands its step's buffers back to the kernel and
# faults them in again on the next step. bench/read_conditions.hpp's keep_freed_memory is the same.
NO_TRIM = "glibc.malloc.trim_threshold=-1:glibc.malloc.mmap_threshold=33554432"
DEFAULT = "nnx deterministic"  # nnx's default matmul backend (nnx/compute.hpp)
# issue 14: the default backend against the fastest libtorch, every optimizer, (config, threads): ratio.
TARGETS_TRAIN = {("tiny", 1): 15.0, ("small", 1): 2.0, ("mnist", 1): 1.3, ("small", 2): 1.3, ("mnist", 2): 1.3}


@dataclass
class Figures:
    repeats: int
    seconds: float
    info: dict
    runs: list        # training run labels, in order
    kernels: dict     # training run label: the OpenBLAS kernel it ran
    train: list       # (config, optimizer, threads, {label: (median, min, max)})
    peaks: dict       # threads: (median, min, max, ISA) GFLOP/s
    gemm: dict        # (M, K, N): {variant: (median, min, max)} GFLOP/s
    ckpt: list        # (parameters, warm {name: (median, min, max)}, cold {...}) ms
    memory: str
    torch: bool
    interop: tuple    # (parameters, warm, cold)


def fmt(m, lo, hi, digits=1):
    return f"{m:,.{digits}f} ({lo:,.{digits}f}-{hi:,.{digits}f})"


def step_flop(cfg):
    """Matrix-product FLOP of one training step: forward F = 2·B·Σ n_i·n_(i+1); backward F for the
    weight gradients plus F - 2·B·n_0·n_1 for the input gradients of every layer but the first (no
    side needs the data's gradient). Elementwise work (bias, ReLU, softmax, the optimizer) is not counted."""
    widths, batch = LAYERS[cfg]
    forward = 2 * batch * sum(a * b for a, b in zip(widths, widths[1:]))
    return 3 * forward - 2 * batch * widths[0] * widths[1]


def fastest_torch(rates):
    """(label, (median, min, max)) of the fastest libtorch configuration, or None."""
    torch = {k: v for k, v in rates.items() if k.startswith("torch")}
    return max(torch.items(), key=lambda kv: kv[1][0]) if torch else None


def ratio(rates, label):
    best = fastest_torch(rates)
    return rates[label][0] / best[1][0] if best and label in rates else None


def kernels_text(f):
    """Which OpenBLAS kernel each training run used: "Haswell (nnx openblas, torch), SkylakeX (...)"."""
    by_kernel = {}
    for run, kernel in f.kernels.items():
        if kernel != "-" and (run.startswith("torch") or "openblas" in run):
            by_kernel.setdefault(kernel, []).append(run)
    return ", ".join(f"{k} ({', '.join(runs)})" for k, runs in sorted(by_kernel.items())) or "none loaded"


def nnx_runs(f):
    return [r for r in f.runs if r.startswith("nnx")]


def throughput_table(f):
    L = ["## Training throughput (steps/s)", "",
         "| config | optimizer | threads | " + " | ".join(f.runs) + " |", "|---|---|---|" + "---|" * len(f.runs)]
    for cfg, opt, t, rates in f.train:
        L.append(f"| {cfg} | {opt} | {t} | " + " | ".join(fmt(*rates[r]) if r in rates else "-" for r in f.runs) + " |")
    return L + ["", "Configs: tiny 4-32-32-2 batch 32; small 64-256-256-10 batch 128; mnist 784-512-512-10 batch 256. "
                "Same initial parameters (nnx's, copied into torch), data, loss (softmax cross-entropy) and optimizer "
                "hyper-parameters on both sides. nnx's matmul backends (nnx/compute.hpp, NNX_MATMUL): deterministic = one "
                "FMA chain per output, bitwise identical on every machine, path and thread count (the default); portable = "
                "Eigen SSE2, bitwise identical on every x86-64 machine (the default up to nnx 0.1); openblas = the same "
                "OpenBLAS libtorch uses, reproducible on one machine for a fixed thread count only. SkylakeX = "
                "OPENBLAS_CORETYPE=SkylakeX, OpenBLAS's AVX-512 kernels (the other runs use the kernel named under The "
                f"machine). torch = libtorch with glibc's malloc as it comes; no-trim = `GLIBC_TUNABLES={NO_TRIM}` (glibc "
                "keeps the memory libtorch frees instead of handing it back and faulting it in again on the next step).",
                "", "Where the work differs: torch's step calls zero_grad, writing zeros into every gradient that backward "
                "then accumulates into; nnx's backward writes fresh gradients. Both compute the same loss, gradients and update."]


def ratio_table(f):
    nnx = nnx_runs(f)
    L = ["### Against the fastest libtorch configuration of each row", "",
         "| config | optimizer | threads | fastest libtorch | " + " | ".join(f"ratio {r}" for r in nnx) + " |",
         "|---|---|---|---|" + "---|" * len(nnx)]
    for cfg, opt, t, rates in f.train:
        best = fastest_torch(rates)
        cells = [f"{ratio(rates, r):.2f}x" if ratio(rates, r) else "-" for r in nnx]
        L.append(f"| {cfg} | {opt} | {t} | {best[0] if best else '-'} | " + " | ".join(cells) + " |")
    return L


def achieved(rate, flop, peak):
    """'GFLOP/s (% of peak)' of `rate` steps/s of `flop` each."""
    g = rate * flop / 1e9
    return f"{g:,.1f} ({100 * g / peak:.0f}%)" if peak else f"{g:,.1f}"


def arithmetic_table(f):
    shown = [DEFAULT] + [r for r in nnx_runs(f) if "openblas" in r]
    L = ["### Arithmetic: achieved GFLOP/s and share of the machine's peak", "",
         "Peak: bench_peak, independent FMA chains in registers on the widest vector ISA (cpuid), float32, every thread "
         "busy: " + "; ".join(f"{t} thread(s) {fmt(*p[:3])} GFLOP/s ({p[3]})" for t, p in sorted(f.peaks.items())) + ". "
         "FLOP of a step, counting matrix products only: forward F = 2·B·Σ n_i·n_(i+1) over the layers, backward F for the "
         "weight gradients plus F − 2·B·n_0·n_1 for the input gradients (no side computes the data's gradient): "
         "3F − 2·B·n_0·n_1 in all. GFLOP/s = steps/s × that; % = of the peak at the same thread count.", "",
         "| config | optimizer | threads | MFLOP/step | " + " | ".join(shown) + " | fastest libtorch |",
         "|---|---|---|---|" + "---|" * (len(shown) + 1)]
    for cfg, opt, t, rates in f.train:
        flop, peak, best = step_flop(cfg), f.peaks.get(t, (0,))[0], fastest_torch(rates)
        cells = [achieved(rates[r][0], flop, peak) if r in rates else "-" for r in shown]
        cells.append(achieved(best[1][0], flop, peak) if best else "-")
        L.append(f"| {cfg} | {opt} | {t} | {flop / 1e6:,.3f} | " + " | ".join(cells) + " |")
    return L


def gemm_section(f):
    variants = list(next(iter(f.gemm.values()), {}))
    kernel = f.kernels.get("nnx openblas")  # bench_gemm's openblas runs the same kernel as this run
    header = [f"openblas ({kernel})" if v == "openblas" and kernel else v for v in variants]
    L = ["## Matrix products (GFLOP/s, float32, 1 thread)", "",
         "bench_gemm: every variant measured in turn in each round (interleaved); nnx::matmul, output allocation "
         "included. The deterministic paths give the same bits; which one runs is chosen by cpuid (NNX_FMA_PATH). "
         "openblas (SkylakeX) comes from a second bench_gemm run with OPENBLAS_CORETYPE=SkylakeX (OpenBLAS picks its "
         "kernel once, when it loads).", "",
         "| M x K x N | " + " | ".join(header) + " |", "|---|" + "---|" * len(variants)]
    for (m, k, n), figs in f.gemm.items():
        L.append(f"| {m} x {k} x {n} | " + " | ".join(fmt(*figs[v]) if v in figs else "-" for v in variants) + " |")
    return L


def disk_section(f):
    L = ["## Checkpoints (ms)", "",
         "Reads are measured two ways, the same on every side (bench/read_conditions.hpp). **Cold**: a fresh process (every "
         "buffer new memory the kernel faults in) reads a file whose pages were dropped from the page cache "
         "(fdatasync, then posix_fadvise DONTNEED): it comes from the disk, as the first restore after a reboot. "
         "**Warm**: the file in the page cache and the memory already faulted in: each process runs every operation "
         "twice and times the second (glibc set to keep freed memory, as torch no-trim). Every round runs each side's "
         "process in turn (interleaved), warm and cold alike.", "",
         "| parameters | write+fsync | nnx save | torch::save+fsync | save() blocks (async) | nnx verify (warm) |",
         "|---|---|---|---|---|---|"]
    for n, warm, cold in f.ckpt:
        g = lambda k: fmt(*warm[k], digits=2) if k in warm else "-"
        L.append(f"| {n:,} | {g('write+fsync (plain)')} | {g('nnx save (sync)')} | {g('torch::save+fsync')} | "
                 f"{g('nnx save() blocks (async)')} | {g('nnx verify')} |")
    reads = ("read (plain)", "nnx restore (checked)", "torch::load")
    L += ["", "| parameters | read, warm | nnx restore, warm | torch::load, warm | read, cold | nnx restore, cold | torch::load, cold |",
          "|---|---|---|---|---|---|---|"]
    for n, warm, cold in f.ckpt:
        L.append(f"| {n:,} | " + " | ".join(fmt(*fig[k], digits=2) if k in fig else "-" for fig in (warm, cold) for k in reads) + " |")
    L += ["", "Plain write/read: the same bytes with write(2)+fsync / read(2) into new buffers (the machine's limit). "
          "nnx restore reads into the abstract target's new buffers and verifies every byte's XXH3 checksum; torch::load "
          "checks nothing (a flipped byte loads silently): there torch does less work. "
          "Async: save() takes an O(1) copy-on-write snapshot; the write happens on a background thread.", "",
          "## Export and import (ms)", "",
          f"bench_interop, {f.interop[0]:,} float32 parameters, warm and cold as for checkpoints (a warm process runs "
          "every operation in turn, twice, and times the second pass); each write's old file is removed before it is "
          "timed. Every read fills new "
          "buffers that stay alive (as an import's State does).", "",
          "| | write+fsync | save_safetensors | save_npz | read | load_safetensors | load_npz |", "|---|---|---|---|---|---|---|"]
    names = ("write+fsync (plain)", "save_safetensors", "save_npz", "read (plain)", "load_safetensors", "load_npz")
    for which, fig in (("warm", f.interop[1]), ("cold", f.interop[2])):
        L.append(f"| {which} | " + " | ".join(fmt(*fig[k], digits=1) if k in fig else "-" for k in names) + " |")
    L += ["", "npz is a zip: every byte goes through CRC-32 (libzip, zlib's crc32) on both sides, which safetensors does "
          "not ask for; safetensors is the exchange format to use when speed matters."]
    return L


def targets_section(f):
    L = ["## Targets", "",
         "Training: the default backend (deterministic) against the fastest libtorch configuration of the row; the "
         "openblas figures are shown, but a target is met by the default backend or it is not met.", "",
         "| target | default (deterministic) | " + " | ".join(r for r in nnx_runs(f) if "openblas" in r) + " | met |",
         "|---|---|" + "---|" * len([r for r in nnx_runs(f) if "openblas" in r]) + "---|"]
    for cfg, opt, t, rates in f.train:
        goal = TARGETS_TRAIN.get((cfg, t))
        if goal is None or not fastest_torch(rates) or DEFAULT not in rates:
            continue
        others = " | ".join(f"{ratio(rates, r):.2f}x" if ratio(rates, r) else "-" for r in nnx_runs(f) if "openblas" in r)
        r = ratio(rates, DEFAULT)
        L.append(f"| training {cfg} {opt} {t} thread(s) >= {goal}x libtorch | {r:.2f}x | {others} | {'yes' if r >= goal else 'NO'} |")
    L += ["", "| target | figure | met |", "|---|---|---|"]
    n, warm, cold = f.ckpt[-1]
    s = warm["nnx save (sync)"][0] / warm["write+fsync (plain)"][0]
    a = warm["nnx save() blocks (async)"][0] / warm["nnx save (sync)"][0]
    L.append(f"| save within 1.1x of write+fsync ({n:,} params) | {s:.2f}x | {'yes' if s <= 1.1 else 'NO'} |")
    for which, fig in (("warm", warm), ("cold", cold)):
        r = fig["nnx restore (checked)"][0] / fig["read (plain)"][0]
        L.append(f"| restore with checksums within 1.25x of read, {which} ({n:,} params) | {r:.2f}x | {'yes' if r <= 1.25 else 'NO'} |")
    L.append(f"| async save blocks <= 10% of a sync save | {100 * a:.3f}% | {'yes' if a <= 0.1 else 'NO'} |")
    n, warm, cold = f.interop
    for name, plain, ours, figs in (("export (save_safetensors)", "write+fsync (plain)", "save_safetensors", [("", warm)]),
                                    ("import (load_safetensors)", "read (plain)", "load_safetensors", [(", warm", warm), (", cold", cold)])):
        for which, fig in figs:
            if plain in fig and ours in fig:
                r = fig[ours][0] / fig[plain][0]
                L.append(f"| {name} within 1.2x of the plain operation{which} ({n:,} params) | {r:.2f}x | {'yes' if r <= 1.2 else 'NO'} |")
    m = re.search(r"([\d.]+) ms, (\d+) bytes allocated", f.memory)
    if m:
        L.append(f"| eval_shape of 1e9 parameters < 1 MB and < 10 ms | {int(m.group(2)):,} bytes, {float(m.group(1)):.3f} ms | "
                 f"{'yes' if int(m.group(2)) < 1e6 and float(m.group(1)) < 10 else 'NO'} |")
    m = re.search(r"([\d.]+)x the state's size", f.memory)
    if m:
        L.append(f"| restore peak memory <= 1.2x the state | {float(m.group(1)):.3f}x | {'yes' if float(m.group(1)) <= 1.2 else 'NO'} |")
    return L


def markdown(f):
    info = f.info
    L = ["# Benchmarks", "",
         "Generated by `./run.sh bench` (bench/run_bench.py); do not edit by hand. Each figure is the median of "
         f"{f.repeats} runs with the spread (min-max) in parentheses ({f.seconds:g} s per training run); each ratio "
         "compares figures measured in the same run on the same machine, in interleaved rounds. Timing never decides a "
         "test: these machines are shared and noisy.", "",
         "## The machine", "",
         f"- CPU: {info['cpu']}, {info['cores']} cores; memory {info['memory']}; Linux {info['kernel']}",
         "- nnx: the deterministic FMA GEMM (one fused multiply-add chain per output in increasing k: bitwise the same "
         "results on every machine, docs/determinism.md) on its fastest path for this CPU, Release build (-O3), "
         "its own row-split threading (OpenMP)",
         f"- libtorch {'1.13 (Debian libtorch-dev) with BLAS ' + info['blas'] if f.torch else 'not built (run ./run.sh bench)'}",
         f"- OpenBLAS kernels (openblas_get_corename): {kernels_text(f)}; without OPENBLAS_CORETYPE OpenBLAS picks "
         f"{info['own_kernel']} on this CPU. The OpenBLAS environment every run inherits: "
         f"{info['blas_env'] or 'none'} (the SkylakeX runs override OPENBLAS_CORETYPE)",
         "", "![ratios](benchmarks.svg)", ""]
    L += throughput_table(f) + [""] + ratio_table(f) + [""] + arithmetic_table(f) + [""] + gemm_section(f) + [""] + disk_section(f)
    L += ["", "## Memory", "", "```", f.memory.strip(), "```", ""] + targets_section(f)
    return "\n".join(L) + "\n"


def svg_plot(f, path):
    """A bar chart of the ratios nnx / peer (higher is better for nnx), one bar per measurement."""
    openblas = [r for r in nnx_runs(f) if "openblas" in r][-1:]  # the fastest kernel: the last listed
    bars = [(f"{c} {o} {t}t" + ("" if r == DEFAULT else f" {r[4:]}"), ratio(rates, r))
            for r in [DEFAULT] + openblas for c, o, t, rates in f.train if ratio(rates, r)]
    for n, warm, cold in f.ckpt:
        label = f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"
        if "write+fsync (plain)" in warm:
            bars.append((f"save {label} vs write", warm["write+fsync (plain)"][0] / warm["nnx save (sync)"][0]))
        for which, fig in (("warm", warm), ("cold", cold)):
            bars.append((f"restore {label} vs read, {which}", fig["read (plain)"][0] / fig["nnx restore (checked)"][0]))
            if "torch::load" in fig:
                bars.append((f"restore {label} vs torch, {which}", fig["torch::load"][0] / fig["nnx restore (checked)"][0]))
        if "torch::save+fsync" in warm:
            bars.append((f"save {label} vs torch", warm["torch::save+fsync"][0] / warm["nnx save (sync)"][0]))
    if not bars:
        return False
    # A log scale centred on 1.0: 0.5x and 2x are as far from equal; bars grow from the 1.0 line.
    width, bar_h, left = 760, 18, 230
    height = 60 + bar_h * len(bars)
    logs = [math.log10(v) for _, v in bars]
    lo, hi = min(min(logs), 0.0), max(max(logs), 0.0)
    scale = (width - left - 60) / ((hi - lo) or 1.0)
    one = left + (-lo) * scale
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           '<text x="10" y="20" font-size="14">nnx speed relative to its peer (1.0 = equal; right is faster; log scale; '
           'training against the fastest libtorch)</text>']
    for i, ((label, v), lg) in enumerate(zip(bars, logs)):
        y, x = 40 + i * bar_h, one + lg * scale
        colour = "#2a7ab0" if v >= 1 else "#c0504d"
        out.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{label}</text>')
        out.append(f'<rect x="{min(x, one):.1f}" y="{y + 2}" width="{abs(x - one):.1f}" height="{bar_h - 5}" fill="{colour}"/>')
        out.append(f'<text x="{max(x, one) + 4:.1f}" y="{y + 12}">{v:.2f}x</text>')
    out.append(f'<line x1="{one:.1f}" y1="32" x2="{one:.1f}" y2="{height - 8}" stroke="#444" stroke-dasharray="3,3"/>')
    out.append("</svg>")
    with open(path, "w") as out_file:
        out_file.write("\n".join(out) + "\n")
    return True
