// nnx/threads.hpp — how many threads nnx's large matrix products may use.
//
//   nnx::set_num_threads(2);
//
// The default is the NNX_NUM_THREADS environment variable, else 1: a library embedded in a
// product should not take cores it was not given. Results are bitwise the same for every thread
// count: work is split by output rows, never inside a sum, and Eigen's own threading is off.
#pragma once

namespace nnx {

void set_num_threads(int threads);  // >= 1
int num_threads();

}  // namespace nnx
