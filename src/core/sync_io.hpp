// Running a request with ordinary system calls, on whatever thread a backend chooses (thread_pool's
// workers and submitter, linux_aio's helpers). One home for the rules every such path shares:
// continue from r->transferred, end of file, EINTR, streams, and RWF_NOWAIT's "would block".
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include "core/request.hpp"

namespace fileaio::detail {

// A pipe, FIFO, socket or character device (a terminal...): a stream, where I/O may wait
// indefinitely, for something only another request may do.
inline bool is_stream_type(unsigned mode) { return S_ISFIFO(mode) || S_ISSOCK(mode) || S_ISCHR(mode); }

// The same for a descriptor, asked per fd per batch (numbers are reused, so never remembered):
// statx with AT_STATX_DONT_SYNC answers from the cached inode, with no round trip to a FUSE
// daemon or NFS server.
inline unsigned fd_mode(int fd) {
    struct statx stx {};
    return statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE, &stx) == 0 ? stx.stx_mode : 0u;
}
inline bool is_stream_fd(int fd) { return is_stream_type(fd_mode(fd)); }

// One system call for what is left of r (preadv2/pwritev2 with `rwf`). On a descriptor that
// cannot seek (pipe, FIFO, socket, character device: ESPIPE) the offset is ignored and the
// stream's position is used (offset -1), as API.md says for every backend; r->at_stream remembers
// it for the rest of this submission (never by fd number: numbers are reused).
inline ssize_t transfer_once(request *r, int rwf) {
    struct iovec one;
    const rest_vector rest = rest_of(r, &one);
    for (;;) {
        const off_t off = r->at_stream ? -1 : static_cast<off_t>(r->offset + static_cast<int64_t>(r->transferred));
        const ssize_t n = r->is_write() ? pwritev2(r->fd, rest.vec, rest.cnt, off, rwf)
                                        : preadv2(r->fd, rest.vec, rest.cnt, off, rwf);
        if (n >= 0 || errno != ESPIPE || r->at_stream) return n;
        r->at_stream = true;
    }
}

// Runs a read or write until it is whole, hits end of file or fails (request::absorb), or, with
// RWF_NOWAIT, until it would block (EAGAIN, or a file system without RWF_NOWAIT: EOPNOTSUPP).
// True when r is finished (result set); false when the rest must run where blocking is allowed.
inline bool run_io(request *r, int rwf) {
    for (;;) {
        const ssize_t n = transfer_once(r, rwf);
        if (n < 0) {
            const int err = errno;
            if (err == EINTR) continue;
            if ((rwf & RWF_NOWAIT) != 0) return false;
            return r->absorb(-err);  // an error always finishes
        }
        if (r->absorb(n)) return true;
    }
}

// fsync or fdatasync, retried on EINTR. Sets r->result.
inline void run_sync(request *r) {
    int rc;
    do {
        rc = r->kind == op::flush ? fsync(r->fd) : fdatasync(r->fd);
    } while (rc != 0 && errno == EINTR);
    r->result = rc == 0 ? 0 : -errno;
}

// Runs what is left of r, blocking as long as it takes. Sets r->result.
inline void run_blocking(request *r) {
    if (r->is_sync()) {
        run_sync(r);
    } else {
        run_io(r, 0);
    }
}

}  // namespace fileaio::detail
