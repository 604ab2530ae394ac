// The MPI job this process belongs to when mpirun (or another MPI launcher) started it: the
// ranks quantize one output together (formats/write_group.h). owl builds with MPI when CMake finds
// it (OWL_WITH_MPI); a build without it refuses to run as one of several ranks rather than have
// every rank write the whole output.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "formats/write_group.h"

namespace owl {

class MpiWorld final : public WriteGroup {
 public:
  // The job, when a launcher started this process; null for a plain run. Throws UsageError when
  // launched as one of several ranks by an owl built without MPI.
  static std::unique_ptr<MpiWorld> join_if_launched();
  // Ends MPI. While an exception unwinds it does not: this process then exits non-zero without
  // finalizing, and the launcher ends every other rank (their temporaries go with them).
  ~MpiWorld() override;
  MpiWorld(const MpiWorld&) = delete;
  MpiWorld& operator=(const MpiWorld&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void barrier() override;
  std::vector<std::string> gather(const std::string& mine) override;
  void send(int to, const std::string& bytes) override;
  std::string receive(int from) override;
  // Ranks on this machine: each gets an equal share of its cores.
  int local_size() const { return local_size_; }

 private:
  MpiWorld();
  void send_pieces(int to, int tag, const std::string& bytes);
  std::string receive_pieces(int from, int tag);
  int rank_ = 0, size_ = 1, local_size_ = 1;
  size_t piece_bytes_ = 0;
};

// Threads for each rank when --threads is not given: the machine's cores shared by its ranks.
int threads_per_rank(const MpiWorld* world, int threads);

}  // namespace owl
