// linux_aio: the kernel's native AIO (libaio: io_setup/io_submit/io_getevents/io_cancel) for
// O_DIRECT on block devices and block-backed filesystems, helper threads for every other fd (which
// io_submit would run synchronously). One aio context per fileaio context; flush/datasync as
// barriers; wakeups through a poll iocb on an eventfd, so no signals are used.
#pragma once

#include <memory>

#include "backends/backend.hpp"

namespace fileaio::detail {

// 0 when io_setup exists here and the kernel has IOCB_CMD_POLL (4.18+), else E_NOT_SUPPORTED;
// E_INSUFFICIENT_RESOURCES (the registry's "for now") when fs.aio-nr has reached fs.aio-max-nr,
// with a reason naming both sysctls (creation then fails with E_INSUFFICIENT_RESOURCES).
int linux_aio_probe(char *reason, size_t reason_size);
// 0, E_INSUFFICIENT_RESOURCES (io_setup EAGAIN: fs.aio-max-nr exhausted or below max_reqs; or
// EINVAL: more than the ~4M events a kernel ring holds), E_NOT_SUPPORTED, E_NO_MEMORY.
int linux_aio_create(const backend_config &config, std::unique_ptr<backend> *out);
int linux_aio_limits(fileaio_limits *limits);

}  // namespace fileaio::detail
