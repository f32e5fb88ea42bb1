// nnx/distributed.hpp — data-parallel training over MPI with the same bits on any number of
// processes, and checkpoints coordinated across the processes. Link nnx::distributed; run with
// mpirun (e.g. `mpirun -np 2 build/bin/11_data_parallel --dir /tmp/dp`).
//
//   nnx::distributed::Communicator comm(argc, argv);               // communicator.hpp
//   nnx::distributed::DataParallel dp(comm, {.shards = 8});        // data_parallel.hpp
//   nnx::distributed::CoordinatedRun run(comm, dir, {.max_to_keep = 3});  // coordinated_run.hpp
//   run.add("model", model).add("optimizer", opt).add("data", loader);
//   for (std::int64_t step = run.resume_or_start().value_or(0) + 1; step <= steps; ++step) {
//     nnx::Array loss = dp.train_step(model, opt, loader.next(), loss_fn);
//     if (run.should_save(step)) run.save(step);
//   }
//   run.wait_until_finished();
//
// The design, the exactness argument and measurements: docs/distributed.md.
#pragma once

#include "nnx/distributed/communicator.hpp"
#include "nnx/distributed/coordinated_run.hpp"
#include "nnx/distributed/data_parallel.hpp"
#include "nnx/distributed/fixed_point.hpp"
