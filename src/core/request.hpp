// The backend-neutral request: what to do, its state, its result, and scratch space that the
// backend which runs it may use while it is SUBMITTED. Requests are created once and reused;
// nothing here allocates.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace fileaio::detail {

struct context;

enum class op : uint8_t { read, write, readv, writev, flush, datasync };

// The public states (PREPARED/SUBMITTED/COMPLETED) plus two internal ones. CLAIMED is held by a
// submit between validating its batch and handing it on; it reads as PREPARED from outside.
// CANCELLING is held by the one cancel deciding about a SUBMITTED request; it reads as SUBMITTED.
// While a cancel holds it the request cannot leave SUBMITTED any other way (a wait that has it
// from its backend keeps it aside until the cancel has answered; see context::finish), so it
// cannot be handed back and submitted to another context under the cancel's feet: the cancel acts
// on the submission, and the context, it found.
enum class req_state : uint32_t { prepared = 0, submitted = 1, completed = 2, claimed = 3, cancelling = 4 };

inline constexpr uint64_t request_magic = 0x7271656c69616f66ULL;  // "foaileqr"
inline constexpr size_t backend_scratch_size = 256;

struct request {
    uint64_t magic = request_magic;
    std::atomic<req_state> state{req_state::completed};

    // What to do (valid from prepare on).
    op kind = op::read;
    int fd = -1;
    int64_t offset = 0;
    void *buf = nullptr;             // read/write
    const struct iovec *iov = nullptr;  // readv/writev
    int iovcnt = 0;
    size_t size = 0;                 // bytes to move (total of the vector)
    void *user = nullptr;

    // The outcome (valid in COMPLETED).
    int result = 0;
    size_t transferred = 0;

    // While SUBMITTED: the context it was submitted to, and backend bookkeeping. `stage` and
    // `at_stream` are reset by submit before the backend sees the request; stage's meaning is
    // the backend's.
    std::atomic<context *> owner{nullptr};
    request *next = nullptr;
    request *prev = nullptr;
    uint64_t seq = 0;
    std::atomic<uint32_t> stage{0};
    bool at_stream = false;  // the descriptor cannot seek: work at the stream's position (core/sync_io.hpp)
    uint64_t submit_ns = 0;  // CLOCK_MONOTONIC at submit while the context records latency, else 0
    alignas(16) unsigned char scratch[backend_scratch_size];

    bool is_write() const { return kind == op::write || kind == op::writev; }
    bool is_sync() const { return kind == op::flush || kind == op::datasync; }
    bool is_vectored() const { return kind == op::readv || kind == op::writev; }

    // Folds what one system call or kernel completion answered (a byte count or -errno) into the
    // request. True when it is finished (result set); false when bytes remain, which the backend
    // continues from `transferred`. End of file ends a read successfully; a write that moves
    // nothing fails with -EIO rather than loop. Retrying -EINTR and the like is the caller's.
    bool absorb(long res) {
        if (is_sync()) {
            result = res < 0 ? static_cast<int>(res) : 0;
            return true;
        }
        if (res > 0) {
            transferred += static_cast<size_t>(res);
            if (transferred < size) return false;
            result = 0;
        } else if (res == 0) {
            result = is_write() ? -EIO : 0;
        } else {
            result = static_cast<int>(res);
        }
        return true;
    }
};

inline bool is_live(const request *r) { return r != nullptr && r->magic == request_magic; }

// What is left of a read or write from r->transferred on, as a vector for one system call or
// kernel operation. Nothing is copied: the rest of the caller's array is used as it is, except a
// partly done element, which goes alone through *one (so `one` must live as long as the vector
// is in use: the backend's scratch for an asynchronous operation). Empty elements are skipped.
// Only for a request with bytes left (transferred < size).
struct rest_vector {
    const struct iovec *vec;
    int cnt;
};
inline rest_vector rest_of(const request *r, struct iovec *one) {
    size_t skip = r->transferred;
    if (!r->is_vectored()) {
        one->iov_base = static_cast<char *>(r->buf) + skip;
        one->iov_len = r->size - skip;
        return {one, 1};
    }
    int k = 0;
    while (k < r->iovcnt && skip >= r->iov[k].iov_len) skip -= r->iov[k++].iov_len;
    if (skip == 0) return {r->iov + k, r->iovcnt - k};
    one->iov_base = static_cast<char *>(r->iov[k].iov_base) + skip;
    one->iov_len = r->iov[k].iov_len - skip;
    return {one, 1};
}

// Cancels that end (give a request back from CANCELLING) advance this epoch and notify it. Threads
// that must wait for a cancel to end wait on the epoch, not on the request: once a cancel has given
// a request back, another thread may hand it back to its owner, who may free it at once, so the
// cancel must not touch the request after that store (not even to notify on its address).
std::atomic<uint32_t> &cancel_epoch();
// Waits until r is not CANCELLING, and returns its state then.
req_state wait_out_cancel(request *r);
// Dies with a message: a request in a state it cannot be in here (a backend reported it twice).
[[noreturn]] void state_invariant_broken(const request *r, req_state seen, const char *where);

// Moves a SUBMITTED request to `to` (PREPARED when a submit gives it back untouched). A cancel
// deciding about it meanwhile is waited out; it is short.
inline void settle(request *r, req_state to) {
    req_state s = req_state::submitted;
    while (!r->state.compare_exchange_weak(s, to, std::memory_order_acq_rel, std::memory_order_acquire)) {
        if (s == req_state::cancelling) {
            s = wait_out_cancel(r);
        } else if (s != req_state::submitted) {
            state_invariant_broken(r, s, "settle");
        }
        s = req_state::submitted;
    }
}

// Prepare: validate, then fill. On error the request is unchanged. Returns 0 or an error code.
int prepare_io(request *r, op kind, int fd, int64_t offset, void *buf, size_t size, void *user);
int prepare_vectored(request *r, op kind, int fd, int64_t offset, const struct iovec *iov, int iovcnt,
                     void *user);
int prepare_sync(request *r, op kind, int fd, void *user);

// The public view of the state: a fileaio_req_state value.
int public_state(const request *r);
// The stored result of a COMPLETED request (E_NOT_SUBMITTED / E_IN_PROGRESS otherwise).
int get_result(const request *r, size_t *transferred);
// Cancel: E_NOT_SUBMITTED unless SUBMITTED; else takes the request (CANCELLING) and asks the
// context it was submitted to.
int cancel(request *r);

}  // namespace fileaio::detail
