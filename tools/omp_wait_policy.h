// OpenMP's idle workers wait passively in the commands that stream (see omp_wait_policy.cpp).
#pragma once

namespace owl {

// For `owl quantize` and `owl convert`, unless OMP_WAIT_POLICY is set: sets it to passive and
// runs the program again with it (the OpenMP runtime reads it only when it starts). Returns
// only when there is nothing to do or the program cannot be run again, which is harmless.
void prefer_passive_omp_waits(int argc, char** argv);

}  // namespace owl
