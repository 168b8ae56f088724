// thread_pool: a pool of worker threads per context running preadv2/pwritev2/fsync. Needs nothing
// from the kernel beyond POSIX; page-cache hits are served inline at submit (RWF_NOWAIT).
#pragma once

#include <memory>

#include "backends/backend.hpp"

namespace fileaio::detail {

int thread_pool_probe(char *reason, size_t reason_size);
int thread_pool_create(const backend_config &config, std::unique_ptr<backend> *out);
int thread_pool_limits(fileaio_limits *limits);

}  // namespace fileaio::detail
