// `owl quantize` and `owl convert` open one OpenMP region per chunk of rows and read and write
// between them. By default OpenMP's idle workers spin between regions (libgomp: up to 300,000
// spins), and on a busy machine that spinning takes the cores the reading, writing and read-ahead
// threads need. Measured on a 135M-parameter model on 2 loaded cores, Q8_0 with 2 threads:
// 3.30 s wall and 3.28 s of CPU spinning, 1.61 s and 1.20 s with passive waits; the same bytes.
//
// libgomp reads OMP_WAIT_POLICY once, in its constructor, before main runs; there is no call to
// change it later. Setting it from the executable's .preinit_array, before that constructor,
// crashes glibc's setenv that early. So the program sets it and runs itself again: one exec,
// a few milliseconds, for runs that take seconds to hours.
#include "tools/omp_wait_policy.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace owl {
namespace {

bool streams_with_openmp(const char* command) {
  return std::strcmp(command, "quantize") == 0 || std::strcmp(command, "convert") == 0;
}

}  // namespace

void prefer_passive_omp_waits(int argc, char** argv) {
  if (std::getenv("OMP_WAIT_POLICY")) return;  // the user's choice, or already run again
  const char* command = nullptr;               // the first argument that is not an option
  for (int i = 1; i < argc && !command; ++i)
    if (argv[i][0] != '-') command = argv[i];
  if (!command || !streams_with_openmp(command)) return;
  if (setenv("OMP_WAIT_POLICY", "passive", 0) != 0) return;
  execv("/proc/self/exe", argv);
  // Without /proc the run goes on with spinning waits: slower on a busy machine, same bytes.
}

}  // namespace owl
