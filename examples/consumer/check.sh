#!/usr/bin/env bash
# Builds and runs the consumer project against nnx installed into a clean prefix: the check CI runs
# (ctest). Also checks what the installed package asks of a user's machine:
#   - it names no file outside the prefix (no absolute path of the machine that built it);
#   - find_package(nnx) needs neither Eigen nor cereal (private, header-only), and the consumer
#     builds without Eigen; cereal only when it uses nnx::checkpoint_json.
#   examples/consumer/check.sh NNX_BUILD_DIR WORK_DIR
set -euo pipefail
build=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
if grep -nE '(^|[ ";(])/[A-Za-z]' "$work"/prefix/lib*/cmake/nnx/*.cmake; then
  echo "check.sh: the installed package names absolute paths (above); link imported targets instead" >&2
  exit 1
fi
# The package alone, as a project that does not use JSON items sees it: no Eigen, no cereal.
mkdir -p "$work/bare"
cat > "$work/bare/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.20)
project(nnx_bare LANGUAGES CXX)
find_package(nnx 0.1 REQUIRED)
add_executable(bare bare.cpp)
target_link_libraries(bare PRIVATE nnx::models nnx::checkpoint)
CMAKE
echo 'int main() {}' > "$work/bare/bare.cpp"
cmake -S "$work/bare" -B "$work/bare/build" -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_DISABLE_FIND_PACKAGE_Eigen3=ON -DCMAKE_DISABLE_FIND_PACKAGE_cereal=ON >/dev/null
# The consumer: configured, built and run with Eigen out of reach.
cmake -S "$here" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_DISABLE_FIND_PACKAGE_Eigen3=ON >/dev/null
cmake --build "$work/build" -j2 >/dev/null
"$work/build/consumer"
