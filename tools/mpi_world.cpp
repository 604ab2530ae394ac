#include "tools/mpi_world.h"

#include <omp.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>

#include "formats/io/error.h"

#if defined(OWL_WITH_MPI)
#include <mpi.h>
#endif

namespace owl {
namespace {

// Ranks the launcher started, from the variables Open MPI, MPICH and PMIx launchers set; 0 when
// none is set (a plain run).
int launched_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    if (const char* v = std::getenv(name)) return std::max(1, std::atoi(v));
  }
  return std::getenv("PMIX_RANK") ? 1 : 0;
}

#if defined(OWL_WITH_MPI)
void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw std::runtime_error(std::string("MPI: ") + what + " failed");
}
#endif

}  // namespace

#if defined(OWL_WITH_MPI)

std::unique_ptr<MpiWorld> MpiWorld::join_if_launched() {
  if (launched_size() == 0) return nullptr;
  return std::unique_ptr<MpiWorld>(new MpiWorld());
}

MpiWorld::MpiWorld() {
  check(MPI_Init(nullptr, nullptr), "MPI_Init");
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm local;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local),
        "MPI_Comm_split_type");
  MPI_Comm_size(local, &local_size_);
  MPI_Comm_free(&local);
}

MpiWorld::~MpiWorld() {
  if (std::uncaught_exceptions() == 0) MPI_Finalize();
}

void MpiWorld::barrier() {
  check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

std::vector<std::string> MpiWorld::gather(const std::string& mine) {
  const int bytes = static_cast<int>(mine.size());
  std::vector<int> counts(rank_ == 0 ? static_cast<size_t>(size_) : 0);
  check(MPI_Gather(&bytes, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather");
  std::vector<int> starts(counts.size());
  int total = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    starts[i] = total;
    total += counts[i];
  }
  std::string all(static_cast<size_t>(total), '\0');
  check(MPI_Gatherv(mine.data(), bytes, MPI_CHAR, all.data(), counts.data(), starts.data(),
                    MPI_CHAR, 0, MPI_COMM_WORLD),
        "MPI_Gatherv");
  std::vector<std::string> out;
  for (size_t i = 0; i < counts.size(); ++i)
    out.push_back(all.substr(static_cast<size_t>(starts[i]), static_cast<size_t>(counts[i])));
  return out;
}

void MpiWorld::send(int to, const std::string& bytes) {
  if (bytes.size() > static_cast<size_t>(INT_MAX))
    throw UsageError("a message of " + std::to_string(bytes.size()) +
                     " bytes between ranks is over MPI's 2 GiB count; use fewer tokens per chunk");
  check(MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, to, 0, MPI_COMM_WORLD),
        "MPI_Send");
}

std::string MpiWorld::receive(int from) {
  MPI_Status status;
  check(MPI_Probe(from, 0, MPI_COMM_WORLD, &status), "MPI_Probe");
  int bytes = 0;
  check(MPI_Get_count(&status, MPI_BYTE, &bytes), "MPI_Get_count");
  std::string out(static_cast<size_t>(bytes), '\0');
  check(MPI_Recv(out.data(), bytes, MPI_BYTE, from, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
        "MPI_Recv");
  return out;
}

#else

std::unique_ptr<MpiWorld> MpiWorld::join_if_launched() {
  if (launched_size() > 1)
    throw UsageError("this owl was built without MPI, so it cannot be one of " +
                     std::to_string(launched_size()) +
                     " ranks; install libopenmpi-dev and rebuild, or run it without mpirun");
  return nullptr;
}

MpiWorld::MpiWorld() = default;
MpiWorld::~MpiWorld() = default;
void MpiWorld::barrier() {}
std::vector<std::string> MpiWorld::gather(const std::string& mine) {
  return {mine};
}
// A build without MPI is never more than one process, which has no one to talk to.
void MpiWorld::send(int, const std::string&) {
  throw std::logic_error("MpiWorld::send without MPI");
}
std::string MpiWorld::receive(int) {
  throw std::logic_error("MpiWorld::receive without MPI");
}

#endif

int threads_per_rank(const MpiWorld* world, int threads) {
  if (threads > 0 || !world) return threads;
  return std::max(1, omp_get_num_procs() / world->local_size());
}

}  // namespace owl
