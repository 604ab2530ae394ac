#include "tools/mpi_world.h"

#include <omp.h>

#include <algorithm>
#include <cstdint>
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
constexpr int kSendTag = 0, kGatherTag = 1;

// 1 GiB; OWL_MPI_PIECE_BYTES sets a smaller piece so the tests cut their small messages too.
size_t message_piece_bytes() {
  constexpr size_t kDefault = size_t{1} << 30;
  const char* v = std::getenv("OWL_MPI_PIECE_BYTES");
  if (!v) return kDefault;
  const long long n = std::atoll(v);
  return n > 0 && static_cast<size_t>(n) <= kDefault ? static_cast<size_t>(n) : kDefault;
}

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
  piece_bytes_ = message_piece_bytes();
}

MpiWorld::~MpiWorld() {
  if (std::uncaught_exceptions() == 0) MPI_Finalize();
}

void MpiWorld::barrier() {
  check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

std::vector<std::string> MpiWorld::gather(const std::string& mine) {
  // Point to point, in rank order, rather than MPI_Gatherv: its int counts and displacements
  // cannot hold what rank 0 collects from a model of DeepSeek-V3's size (an importance
  // matrix's sums are gigabytes), and a tag of its own keeps it apart from the pipeline's sends.
  if (rank_ != 0) {
    send_pieces(0, kGatherTag, mine);
    return {};
  }
  std::vector<std::string> out{mine};
  for (int from = 1; from < size_; ++from) out.push_back(receive_pieces(from, kGatherTag));
  return out;
}

void MpiWorld::send(int to, const std::string& bytes) {
  send_pieces(to, kSendTag, bytes);
}

std::string MpiWorld::receive(int from) {
  return receive_pieces(from, kSendTag);
}

// A message is its length, then its bytes in pieces of at most piece_bytes_: MPI counts are int,
// so one call moves under 2 GiB.
void MpiWorld::send_pieces(int to, int tag, const std::string& bytes) {
  uint64_t size = bytes.size();
  check(MPI_Send(&size, 1, MPI_UINT64_T, to, tag, MPI_COMM_WORLD), "MPI_Send");
  for (size_t at = 0; at < bytes.size(); at += piece_bytes_) {
    const size_t n = std::min(piece_bytes_, bytes.size() - at);
    check(MPI_Send(bytes.data() + at, static_cast<int>(n), MPI_BYTE, to, tag, MPI_COMM_WORLD),
          "MPI_Send");
  }
}

std::string MpiWorld::receive_pieces(int from, int tag) {
  uint64_t size = 0;
  check(MPI_Recv(&size, 1, MPI_UINT64_T, from, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
  std::string out(size, '\0');
  for (size_t at = 0; at < out.size(); at += piece_bytes_) {
    const size_t n = std::min(piece_bytes_, out.size() - at);
    check(MPI_Recv(out.data() + at, static_cast<int>(n), MPI_BYTE, from, tag, MPI_COMM_WORLD,
                   MPI_STATUS_IGNORE),
          "MPI_Recv");
  }
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
