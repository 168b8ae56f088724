#include "core/request.hpp"

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "core/context.hpp"
#include "fileaio/fileaio.h"

namespace fileaio::detail {
namespace {

constexpr int64_t int64_max = std::numeric_limits<int64_t>::max();

bool range_ok(int64_t offset, size_t size) {
    if (size == 0 || size > static_cast<size_t>(SSIZE_MAX)) return false;
    return static_cast<uint64_t>(offset) <= static_cast<uint64_t>(int64_max) - size;
}

// A request may be prepared unless a submit holds it (SUBMITTED, or CLAIMED by a submit in flight).
int check_preparable(const request *r) {
    if (!is_live(r)) return FILEAIO_E_INVALID_HANDLE;
    req_state s = r->state.load(std::memory_order_acquire);
    if (s == req_state::submitted || s == req_state::claimed || s == req_state::cancelling) return FILEAIO_E_IN_PROGRESS;
    return 0;
}

void fill(request *r, op kind, int fd, int64_t offset, void *user) {
    r->kind = kind;
    r->fd = fd;
    r->offset = offset;
    r->user = user;
    r->buf = nullptr;
    r->iov = nullptr;
    r->iovcnt = 0;
    r->size = 0;
    r->result = 0;
    r->transferred = 0;
}

}  // namespace

int prepare_io(request *r, op kind, int fd, int64_t offset, void *buf, size_t size, void *user) {
    if (int rc = check_preparable(r); rc != 0) return rc;
    if (fd < 0 || offset < 0 || buf == nullptr || !range_ok(offset, size)) return FILEAIO_E_INVALID_PARAMETER;
    fill(r, kind, fd, offset, user);
    r->buf = buf;
    r->size = size;
    r->state.store(req_state::prepared, std::memory_order_release);
    return 0;
}

int prepare_vectored(request *r, op kind, int fd, int64_t offset, const struct iovec *iov, int iovcnt,
                     void *user) {
    if (int rc = check_preparable(r); rc != 0) return rc;
    if (fd < 0 || offset < 0 || iov == nullptr || iovcnt <= 0 || iovcnt > IOV_MAX) return FILEAIO_E_INVALID_PARAMETER;
    size_t total = 0;
    for (int i = 0; i < iovcnt; ++i) {
        if (iov[i].iov_base == nullptr && iov[i].iov_len != 0) return FILEAIO_E_INVALID_PARAMETER;
        if (iov[i].iov_len > static_cast<size_t>(SSIZE_MAX) - total) return FILEAIO_E_INVALID_PARAMETER;
        total += iov[i].iov_len;
    }
    if (!range_ok(offset, total)) return FILEAIO_E_INVALID_PARAMETER;
    fill(r, kind, fd, offset, user);
    r->iov = iov;
    r->iovcnt = iovcnt;
    r->size = total;
    r->state.store(req_state::prepared, std::memory_order_release);
    return 0;
}

int prepare_sync(request *r, op kind, int fd, void *user) {
    if (int rc = check_preparable(r); rc != 0) return rc;
    if (fd < 0) return FILEAIO_E_INVALID_PARAMETER;
    fill(r, kind, fd, 0, user);
    r->state.store(req_state::prepared, std::memory_order_release);
    return 0;
}

int public_state(const request *r) {
    if (!is_live(r)) return FILEAIO_E_INVALID_HANDLE;
    switch (r->state.load(std::memory_order_acquire)) {
        case req_state::prepared:
        case req_state::claimed: return FILEAIO_REQ_PREPARED;
        case req_state::submitted:
        case req_state::cancelling: return FILEAIO_REQ_SUBMITTED;
        case req_state::completed: return FILEAIO_REQ_COMPLETED;
    }
    return FILEAIO_REQ_COMPLETED;
}

int get_result(const request *r, size_t *transferred) {
    if (!is_live(r)) return FILEAIO_E_INVALID_HANDLE;
    switch (r->state.load(std::memory_order_acquire)) {
        case req_state::prepared:
        case req_state::claimed: return FILEAIO_E_NOT_SUBMITTED;
        case req_state::submitted:
        case req_state::cancelling: return FILEAIO_E_IN_PROGRESS;
        case req_state::completed: break;
    }
    if (transferred != nullptr) *transferred = r->transferred;
    return r->result;
}

std::atomic<uint32_t> &cancel_epoch() {
    static std::atomic<uint32_t> epoch{0};
    return epoch;
}

req_state wait_out_cancel(request *r) {
    for (;;) {
        const uint32_t e = cancel_epoch().load(std::memory_order_seq_cst);
        const req_state s = r->state.load(std::memory_order_seq_cst);
        if (s != req_state::cancelling) return s;
        cancel_epoch().wait(e, std::memory_order_seq_cst);
    }
}

void state_invariant_broken(const request *r, req_state seen, const char *where) {
    std::fprintf(stderr, "fileaio: internal error: request %p in state %u in %s (reported twice?)\n",
                 static_cast<const void *>(r), static_cast<unsigned>(seen), where);
    std::abort();
}

int cancel(request *r) {
    if (!is_live(r)) return FILEAIO_E_INVALID_HANDLE;
    // Take the request: from here until the answer it stays in this submission, so `owner` is
    // the context that has it, whose backend alone may be asked. A cancel racing with the request
    // being handed back and submitted again (to this context or another) applies to whichever
    // submission it takes. A second cancel waits for the first's answer, then asks again.
    req_state s = req_state::submitted;
    while (!r->state.compare_exchange_strong(s, req_state::cancelling, std::memory_order_seq_cst,
                                             std::memory_order_acquire)) {
        if (s != req_state::cancelling) return FILEAIO_E_NOT_SUBMITTED;
        s = wait_out_cancel(r);
        if (s != req_state::submitted) return FILEAIO_E_NOT_SUBMITTED;
    }
    context *owner = r->owner.load(std::memory_order_relaxed);  // published by submit's release
    // On 0 the context has made the request COMPLETED; otherwise it gives it back to SUBMITTED and
    // hands it to a wait that kept it aside meanwhile. Either way r is not touched after that.
    const int rc = owner->cancel(r);
    cancel_epoch().fetch_add(1, std::memory_order_seq_cst);
    cancel_epoch().notify_all();
    return rc;
}

}  // namespace fileaio::detail
