// The context: the contract of API.md ("Contexts") on top of one backend. Thread safety:
// submit, wakeup, cancel and stats from any thread; wait from one thread at a time (a second
// gets E_BUSY); destroy alone (a wait in progress makes it E_BUSY).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

#include "backends/backend.hpp"
#include "core/latency_histogram.hpp"
#include "core/request.hpp"
#include "core/request_list.hpp"
#include "fileaio/fileaio.h"

namespace fileaio::detail {

inline constexpr uint64_t context_magic = 0x7874636f69616f66ULL;  // "foaioctx"

struct context {
    context(uint32_t max, uint32_t fl, fileaio_backend kind, std::unique_ptr<backend> be);
    ~context();
    context(const context &) = delete;
    context &operator=(const context &) = delete;

    // The calls of API.md; the C layer has checked the context handle and NULL outputs.
    int submit(request *const *reqs, size_t count, size_t *submitted);
    int wait(size_t min_reqs, uint32_t timeout_ms, request **completed, size_t capacity, size_t *count);
    int wakeup();
    int get_fd(int *fd);  // API.md "Event loops"
    int pause_fd(bool paused);  // API.md "Event loops"
    int cancel(request *r);  // r is held CANCELLING by the caller and was submitted here
    int try_destroy();  // 0 when it may be freed, else E_BUSY
    void get_stats(fileaio_stats *st) const;
    int associate_with_file(int fd);
    int register_buffers(const struct iovec *iov, unsigned count);
    int unregister_buffers();
    // API.md "Latency": any thread, any time.
    int set_latency(bool on);
    int get_latency(int op_code, fileaio_latency *out) const;
    int get_latency_buckets(int op_code, uint64_t *counts, size_t capacity, size_t *n) const;
    void reset_latency();

    uint64_t magic = context_magic;
    const uint32_t max_reqs;
    const uint32_t flags;
    const fileaio_backend kind;

private:
    // FILEAIO_CTX_SINGLE_THREAD: true when the calling thread may submit, wait, cancel and change
    // the buffer hints: it is the owner, or becomes it (the first to submit or wait). Always true
    // without the flag.
    bool owner_thread_ok(bool claim);

    // Marks reaped requests COMPLETED and accounts for them; from one that a cancel holds
    // (CANCELLING) on, they are kept aside instead (in order), and reqs[0 .. returned) are the
    // ones finished now.
    size_t finish(request **reqs, size_t n);
    // Finishes requests kept aside, in order, up to the first a cancel still holds (into out, at
    // most cap).
    size_t take_back_kept_aside(request **out, size_t cap);
    void account(request *const *reqs, size_t n);
    void rollback_claims(request *const *reqs, size_t n);
    // The pollable descriptor (API.md "Event loops"). An eventfd whose counter is nonzero while a
    // wait with timeout 0 might return something: backends make it readable as they finish requests
    // (backend::notify_through), wakeup and cancel when they make a waitable answer, and every wait
    // that got past its checks re-arms it as it leaves (clears it, then sets it again if anything is
    // still there), so it never stays readable for what waits have taken.
    void signal_ready() const;
    void rearm_ready();
    bool ready_now();  // a wait with timeout 0 would return 0 or E_INTERRUPTED (or might: spurious is allowed)
    bool kept_aside_ready();

    std::unique_ptr<backend> backend_;
    // Requests a wait got from the backend while a cancel held them: handed back by a later wait
    // (of this context) once the cancel has answered, so that no wait blocks on a cancel. The
    // count is read without the lock by cancel (to kick a sleeping wait) and by wait.
    std::mutex kept_aside_mutex_;
    request_chain kept_aside_;
    std::atomic<uint64_t> kept_aside_count_{0};
    std::atomic<uint32_t> cancels_running_{0};  // cancels of our requests not yet returned
    std::atomic<uint64_t> pending_{0};
    std::atomic<bool> waiting_{false};
    std::atomic<bool> wakeup_pending_{false};
    std::atomic<uint64_t> owner_thread_{0};  // this_thread_id() of the owner; 0 until claimed
    std::mutex ready_fd_mutex_;      // creating the descriptor, pausing it
    std::atomic<int> ready_fd_{-1};  // the caller's copy: -1 until get_fd is first asked
    // pause_fd: while set, waits do not re-arm the descriptor and the backend is told it need not
    // signal it (backend::pause_notify); changed under ready_fd_mutex_.
    std::atomic<bool> fd_paused_{false};
    // Our own duplicate of the same eventfd, the only number the library writes, drains and hands
    // to the backend. A caller who breaks the rule and closes ready_fd_ may get that number back
    // for a file; writing 8 bytes into it by number would be data in the wrong file.
    std::atomic<int> notify_fd_{-1};

    std::atomic<uint64_t> submitted_{0};
    std::atomic<uint64_t> completed_{0};
    std::atomic<uint64_t> canceled_{0};
    std::atomic<uint64_t> failed_{0};
    std::atomic<uint64_t> pending_max_{0};

    // Latency (set_latency): the recorders, one per fileaio_latency_op, written only by the
    // waiting thread (account), read by anyone; allocated by the first set_latency(true), kept
    // until destroy. A reset moves the baseline (what the readers subtract), under latency_mutex_.
    struct latency_state {
        latency_recorder rec[3];
        std::array<std::array<uint64_t, latency_recorder::bucket_count>, 3> base_counts{};
        std::array<uint64_t, 3> base_sum{};
    };
    // The counts since the last reset, of op_code (0 when nothing was ever recorded).
    bool latency_snapshot(int op_code, latency_histogram *out) const;
    void record_latency(request *const *reqs, size_t n);
    std::unique_ptr<latency_state> latency_owned_;  // under latency_mutex_
    std::atomic<latency_state *> latency_{nullptr};
    std::atomic<bool> latency_on_{false};
    mutable std::mutex latency_mutex_;
};

inline bool is_live(const context *c) { return c != nullptr && c->magic == context_magic; }

// Creates a context from validated-or-not options; returns 0 or an error code.
int create_context(const fileaio_ctx_options &opts, context **out);

}  // namespace fileaio::detail
