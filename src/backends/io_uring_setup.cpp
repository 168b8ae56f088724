// Setting up io_uring, and saying why not: the probe that names the cause when a ring cannot be
// had here (kernel.io_uring_disabled, RLIMIT_MEMLOCK, a kernel without io_uring or too old), the
// fileaio code for a failed io_uring_setup, and the limits. The engine is io_uring.cpp.
#include <liburing.h>
#include <sys/resource.h>

#include <cstdio>

#include "backends/io_uring.hpp"
#include "core/errors.hpp"

namespace fileaio::detail {
namespace {

constexpr unsigned probe_entries = 4;

const char *errno_name(int err) { return error_name(-err); }

// A one-line cause for io_uring_setup failing with `err`.
void describe_setup_failure(int err, char *reason, size_t size) {
    if (reason == nullptr || size == 0) return;
    switch (err) {
        case ENOSYS:
            std::snprintf(reason, size, "io_uring_setup: ENOSYS (the kernel is built without io_uring)");
            return;
        case EPERM: {
            int disabled = -1;
            if (FILE *f = std::fopen("/proc/sys/kernel/io_uring_disabled", "re")) {
                if (std::fscanf(f, "%d", &disabled) != 1) disabled = -1;
                std::fclose(f);
            }
            if (disabled == 2) {
                std::snprintf(reason, size, "io_uring_setup: EPERM (kernel.io_uring_disabled=2)");
            } else if (disabled == 1) {
                std::snprintf(reason, size,
                              "io_uring_setup: EPERM (kernel.io_uring_disabled=1 and this process is neither "
                              "privileged nor in kernel.io_uring_group)");
            } else {
                std::snprintf(reason, size, "io_uring_setup: EPERM (refused by a seccomp filter or security module)");
            }
            return;
        }
        case ENOMEM: {
            struct rlimit rl {};
            getrlimit(RLIMIT_MEMLOCK, &rl);
            if (rl.rlim_cur == RLIM_INFINITY) {
                std::snprintf(reason, size, "io_uring_setup: ENOMEM (the kernel refused the ring memory)");
            } else {
                std::snprintf(reason, size,
                              "io_uring_setup: ENOMEM (the kernel refused the ring memory; RLIMIT_MEMLOCK is %llu KiB, "
                              "see ulimit -l)",
                              static_cast<unsigned long long>(rl.rlim_cur / 1024));
            }
            return;
        }
        case EMFILE:
        case ENFILE:
            std::snprintf(reason, size, "io_uring_setup: %s (no file descriptor left for the ring)", errno_name(err));
            return;
        default:
            std::snprintf(reason, size, "io_uring_setup: %s (%s)", errno_name(err), error_sentence(-err));
            return;
    }
}

}  // namespace

int io_uring_setup_error(int err) {
    switch (err) {
        case ENOMEM:
        case EMFILE:
        case ENFILE:
        case EAGAIN: return FILEAIO_E_INSUFFICIENT_RESOURCES;
        default: return FILEAIO_E_NOT_SUPPORTED;
    }
}

int io_uring_probe(char *reason, size_t reason_size) {
    io_uring ring{};
    io_uring_params p{};
    int rc = io_uring_queue_init_params(probe_entries, &ring, &p);
    if (rc < 0) {
        describe_setup_failure(-rc, reason, reason_size);
        // No descriptor or ring memory left (EMFILE, ENFILE, ENOMEM, EAGAIN): io_uring is here but
        // out of room for now; the registry then still tries a context asked for by name, whose
        // creation fails with E_INSUFFICIENT_RESOURCES as API.md says, and AUTO moves on.
        return io_uring_setup_error(-rc);
    }
    const unsigned features = p.features;
    io_uring_queue_exit(&ring);
    if ((features & IORING_FEAT_EXT_ARG) == 0 || (features & IORING_FEAT_NODROP) == 0) {
        if (reason != nullptr && reason_size != 0)
            std::snprintf(reason, reason_size,
                          "io_uring: the kernel is too old (needs IORING_FEAT_EXT_ARG, Linux 5.11)");
        return FILEAIO_E_NOT_SUPPORTED;
    }
    if (reason != nullptr && reason_size != 0) std::snprintf(reason, reason_size, "available (io_uring)");
    return 0;
}

int io_uring_limits(fileaio_limits *limits) {
    // Any max_reqs: CQEs beyond the CQ's 65536 entries wait in the kernel's no-drop overflow.
    limits->max_outstanding = FILEAIO_UNLIMITED_REQS;
    limits->buffer_alignment = 0;
    return 0;
}

}  // namespace fileaio::detail
