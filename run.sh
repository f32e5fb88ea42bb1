#!/usr/bin/env bash
# nnx: set up, build and run on a fresh Debian 12 machine.
#
#   ./run.sh demo    install what is missing, build, run the demo: lesson 07's resume story
#   ./run.sh test    install what is missing (also python3-pandas, -numpy and -torch: the real clients), build, run the
#                    whole test suite through ctest
#   ./run.sh build   install what is missing and build only
#   ./run.sh bench [OPTIONS]  also installs libtorch-dev and OpenBLAS, runs the benchmarks against libtorch
#                    and the disk, and writes docs/benchmarks.md and docs/benchmarks.svg (about 15 minutes);
#                    OPTIONS go to bench/run_bench.py (--repeats 2 --seconds 0.2: a quick look, not figures)
#   ./run.sh sanitize  builds with AddressSanitizer + UndefinedBehaviorSanitizer in ./build-asan and
#                    runs the test suite under them
#   ./run.sh fuzz [SECONDS]  builds the libFuzzer targets with clang in ./build-fuzz and runs each for
#                    SECONDS (default 60), after replaying the inputs kept in fuzz/regressions/
#
# Missing Debian packages are installed with apt-get (through sudo when not root); the script says
# which before it does. Everything is built in ./build; executables land in ./build/bin.
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(cmake make ninja-build g++ libeigen3-dev libcereal-dev libboost-filesystem-dev doctest-dev libxxhash-dev libcli11-dev
  libopenblas-openmp-dev libzip-dev python3 libopenmpi-dev openmpi-bin)
JOBS=$(nproc 2>/dev/null || echo 2)

install_missing() {
  local missing=() p
  for p in "${PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "run.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "run.sh: installing missing Debian packages: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Configures DIR with Ninja (it keeps both cores busy better than make: a clean build is ~5% faster).
# A DIR configured earlier with another generator is rebuilt from scratch.
configure() {
  local dir=$1
  shift
  if [ -f "$dir/CMakeCache.txt" ] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$dir/CMakeCache.txt"; then
    echo "run.sh: $dir was configured with another generator; configuring it afresh for Ninja"
    rm -rf "$dir"
  fi
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
}

build() {
  install_missing "$@"
  echo "run.sh: configuring and building (Release) in ./build with $JOBS jobs"
  configure build -DCMAKE_BUILD_TYPE=Release
  cmake --build build -j"$JOBS"
}

case "${1:-}" in
  demo)
    build
    cat <<'TXT'

nnx demo — lesson 07's story: train an MLP on two spirals with Adam and dropout, saving a checkpoint
every 200 steps; kill it with SIGKILL mid-way; start it again; it resumes from the latest committed
step and ends with parameters bitwise identical to a run that was never interrupted.
(The other lessons: build/bin/01_modules ... build/bin/12_same_bits_fast; lesson 11 trains over MPI:
examples/dp_resume_story.sh build/bin /tmp/dp-story kills one of 2 processes and resumes at 3.)

TXT
    examples/resume_story.sh build/bin "${TMPDIR:-/tmp}/nnx-demo"
    ;;
  test)
    build python3-pandas python3-numpy python3-torch  # the real clients: pandas, numpy and PyTorch read what nnx writes
    ctest --test-dir build --output-on-failure -j"$JOBS"
    ;;
  build)
    build
    ;;
  sanitize)
    install_missing
    echo "run.sh: building with -fsanitize=address,undefined in ./build-asan"
    configure build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNNX_SANITIZE=address,undefined
    cmake --build build-asan -j"$JOBS"
    # The consumer project and the bench smoke test link nnx without the sanitizer runtime: skipped.
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions="$PWD/tests/ubsan.supp" \
      ctest --test-dir build-asan --output-on-failure -j"$JOBS" -E "consumer project|bench:"
    ;;
  fuzz)
    seconds=${2:-60}
    install_missing clang-14 libclang-rt-14-dev
    echo "run.sh: building the fuzz targets with clang in ./build-fuzz"
    CC=clang-14 CXX=clang++-14 configure build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNNX_FUZZ=ON \
      -DNNX_BUILD_TESTS=OFF -DNNX_BUILD_EXAMPLES=OFF -DNNX_BUILD_BENCH=OFF >/dev/null
    cmake --build build-fuzz -j"$JOBS"
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions="$PWD/tests/ubsan.supp"
    build-fuzz/bin/fuzz_seeds build-fuzz/seeds
    for target in $(grep -E '^[a-z_]+$' fuzz/targets.txt); do
      corpus=build-fuzz/corpus/$target
      mkdir -p "$corpus" "fuzz/regressions/$target"
      echo "run.sh: fuzz_$target: replaying fuzz/regressions/$target, then fuzzing for ${seconds}s"
      if compgen -G "fuzz/regressions/$target/*" >/dev/null; then
        "build-fuzz/bin/fuzz_$target" -runs=0 fuzz/regressions/$target/*
      fi
      # Any allocation above 64 MB is a failure: the inputs are at most 64 KB (JSON text is expanded
      # from them to at most 2 MiB, see fuzz/fuzz_util.hpp: that, not -max_len, reaches deep nesting),
      # and nnx must never allocate beyond what a file's size allows.
      "build-fuzz/bin/fuzz_$target" -max_total_time="$seconds" -max_len=65536 -malloc_limit_mb=64 \
        -rss_limit_mb=2048 -timeout=10 -artifact_prefix="fuzz/regressions/$target/" \
        "$corpus" "build-fuzz/seeds/$target"
    done
    ;;
  bench)
    # libtorch for the peer; libopenblas0-openmp so libtorch does not run on the reference BLAS.
    install_missing libtorch-dev libopenblas0-openmp
    echo "run.sh: building the benchmarks (with the libtorch peer) in ./build-bench"
    configure build-bench -DCMAKE_BUILD_TYPE=Release -DNNX_BENCH_TORCH=ON -DNNX_BUILD_TESTS=OFF \
      -DNNX_BUILD_EXAMPLES=OFF >/dev/null
    cmake --build build-bench -j"$JOBS"
    python3 bench/run_bench.py --build build-bench --out docs/benchmarks.md "${@:2}"
    ;;
  *)
    echo "usage: ./run.sh demo | test | build | bench [OPTIONS] | sanitize | fuzz [SECONDS]" >&2
    exit 2
    ;;
esac
