// The forward pass allocates and frees the same activation buffers at every layer of every chunk.
#pragma once

namespace owl::validate {

// Keeps freed heap memory for the next allocation instead of returning it to the system. glibc
// serves a buffer over its mmap threshold with a fresh mapping and unmaps it at free, and trims
// the heap's top: each chunk then faults its activations in again, page by page, on one thread.
// Measured on 3 chunks of 512 through a 615 MB model: 275k page faults and 0.63 s of system time
// against 42k and 0.15 s with freed memory kept. Peak memory is unchanged (the same buffers are
// live at the peak); the process keeps it until it ends. No effect with another C library.
void keep_freed_memory();

}  // namespace owl::validate
