// posix_aio: glibc's POSIX AIO (aio_read/aio_write/aio_fsync, -lrt). Completions are found by a
// watcher thread of the backend (SIGEV_NONE + aio_suspend), never by signals. glibc runs one
// request per file descriptor at a time, so AUTO never picks this backend; it is here for
// portability and comparison.
#pragma once

#include <memory>

#include "backends/backend.hpp"

namespace fileaio::detail {

int posix_aio_probe(char *reason, size_t reason_size);
// 0, E_INSUFFICIENT_RESOURCES (no watcher thread), E_NO_MEMORY.
int posix_aio_create(const backend_config &config, std::unique_ptr<backend> *out);
int posix_aio_limits(fileaio_limits *limits);

}  // namespace fileaio::detail
