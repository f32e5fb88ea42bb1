// nnx/distributed/communicator.hpp — the processes of an MPI job, and the collectives nnx uses.
//
//   int main(int argc, char** argv) {
//     nnx::distributed::Communicator comm(argc, argv);   // MPI_Init_thread (unless already initialised)
//     comm.rank(); comm.size();                          // this process, and how many there are
//     std::string text = comm.is_root() ? "hello" : "";
//     comm.broadcast(text);                              // every rank now holds rank 0's text
//   }                                                    // MPI_Finalize (only if this object initialised MPI)
//
// Contracts:
//  * RAII: the constructor initialises MPI with MPI_THREAD_FUNNELED (only the thread that built the
//    Communicator calls MPI; checkpoint writer threads never do) unless MPI is already initialised,
//    in which case the destructor does not finalise either.
//  * A Communicator destroyed while an exception unwinds the stack (and size() > 1) calls MPI_Abort:
//    an error this rank alone saw must end the job, never leave the other ranks waiting in a
//    collective forever. Errors that every rank learns together (the coordinated checkpoint's
//    outcome, a non-finite gradient, one rank's failed shard) are thrown on every rank as
//    CollectiveError; catch them before the Communicator goes out of scope to finish cleanly:
//      catch (const nnx::distributed::CollectiveError& e) { ...; return 1; }   // MPI_Finalize, no abort
//      catch (const std::exception& e) { comm.abort(e.what()); }               // this rank alone
//  * Bytes sent between ranks are length-prefixed with a little-endian uint64 and every length is
//    checked; MPI errors are fatal (MPI_ERRORS_ARE_FATAL: the job ends, it does not hang).
//  * This header does not include <mpi.h>: programs that use nnx::distributed compile without it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "nnx/error.hpp"

namespace nnx::distributed {

// An error thrown on EVERY rank at the same collective call, with the same message: the ranks are
// still in step, so the program may end normally (no MPI_Abort needed).
class CollectiveError : public Error {
 public:
  using Error::Error;
};

class Communicator {
 public:
  Communicator(int& argc, char**& argv);
  Communicator();  // without the command line (MPI allows it)
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }

  void barrier() const;
  // Rank `root`'s bytes / text end up on every rank (others' contents are replaced).
  void broadcast(std::vector<std::uint8_t>& bytes, int root = 0) const;
  void broadcast(std::string& text, int root = 0) const;
  // Element-wise over all ranks, in place. Integer sums and maxima are exact, so their result does
  // not depend on the order MPI combines ranks in; floating sums (allreduce_sum of float/double)
  // do depend on it: that is Reduction::fast.
  void allreduce_sum(std::span<std::int64_t> values) const;
  void allreduce_max(std::span<std::int64_t> values) const;
  void allreduce_sum(std::span<float> values) const;
  void allreduce_sum(std::span<double> values) const;
  // Every rank's `mine` concatenated in rank order; counts[r] is rank r's number of elements.
  std::vector<float> allgather(std::span<const float> mine, std::span<const std::int64_t> counts) const;
  std::vector<double> allgather(std::span<const double> mine, std::span<const std::int64_t> counts) const;
  // Ends the whole job now (MPI_Abort), with `message` on stderr.
  [[noreturn]] void abort(const std::string& message, int code = 1) const;

 private:
  void init(int* argc, char*** argv);
  int rank_ = 0;
  int size_ = 1;
  bool owns_mpi_ = false;
  int uncaught_ = 0;  // std::uncaught_exceptions() at construction
};

}  // namespace nnx::distributed
