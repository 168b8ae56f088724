// io_uring: one ring per context (liburing). Any number of threads submit under one lock, one
// thread at a time consumes the completion queue (the waiter, a canceller, or a helper thread that
// keeps requests going while nobody waits); wakeup is a NOP posted to the ring; cancel is
// IORING_REGISTER_SYNC_CANCEL; flush/data sync are held back in the backend until the earlier
// writes to their fd have completed; association takes no reference to the file. Needs Linux
// 5.11 (IORING_FEAT_EXT_ARG); cancel needs 6.0. With FILEAIO_CTX_SINGLE_THREAD (Linux 6.13) the
// ring is single-issuer with deferred task work, no helper, and wakeups are MSG_RING CQEs. The engine is io_uring.cpp, setup and the probe
// io_uring_setup.cpp.
#pragma once

#include <memory>

#include "backends/backend.hpp"

namespace fileaio::detail {

// 0 when a ring can be set up here, else E_NOT_SUPPORTED with the cause in `reason`
// (e.g. "io_uring_setup: EPERM (kernel.io_uring_disabled=2)"), or E_INSUFFICIENT_RESOURCES (the
// registry's "out of room for now") when the ring was refused a descriptor or memory (EMFILE,
// ENFILE, ENOMEM: RLIMIT_MEMLOCK, EAGAIN).
int io_uring_probe(char *reason, size_t reason_size);
// 0, E_NOT_SUPPORTED (io_uring or an asked-for feature such as SQPOLL is refused here),
// E_INSUFFICIENT_RESOURCES (ring memory, file descriptors) or E_NO_MEMORY.
int io_uring_create(const backend_config &config, std::unique_ptr<backend> *out);
int io_uring_limits(fileaio_limits *limits);
// The fileaio code for io_uring_setup failing with errno `err`: E_INSUFFICIENT_RESOURCES when the
// ring was refused memory or a descriptor (out of room for now), else E_NOT_SUPPORTED.
int io_uring_setup_error(int err);

}  // namespace fileaio::detail
