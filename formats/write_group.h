// The processes that write one output together (MPI ranks, tools/mpi_world.h): each writes the
// tensors it was given into the same temporary, and the first commits it. The writers know only
// this interface, never MPI; so do the passes over calibration text the ranks share
// (validate/shared_pass.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace owl {

class WriteGroup {
 public:
  virtual ~WriteGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Returns once every process has called it.
  virtual void barrier() = 0;
  // Rank 0 gets every process's text, in rank order; the others get nothing.
  virtual std::vector<std::string> gather(const std::string& mine) = 0;
  // Point to point, for the stages of a pipeline: `bytes` to process `to`, and the next bytes
  // process `from` sent this one (messages between two processes arrive in the order sent).
  virtual void send(int to, const std::string& bytes) = 0;
  virtual std::string receive(int from) = 0;
};

// Which process writes each of these byte sizes: largest first, each to the process with the
// fewest bytes so far (the lowest rank on a tie). The same on every process, for any order of
// equal sizes, since ties keep the sizes' own order.
std::vector<int> share_by_size(const std::vector<uint64_t>& sizes, int processes);

}  // namespace owl
