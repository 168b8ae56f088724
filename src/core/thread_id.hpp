// A number for the calling thread that no other thread of the process ever gets.
// pthread_self() and gettid() do not do: glibc gives a new thread the pthread_t (the stack) of
// one that has exited, and the kernel reuses thread ids. FILEAIO_CTX_SINGLE_THREAD's owner is
// a thread, and a thread started after the owner's end is another one (the kernel's single
// issuer is still the exited task).
#pragma once

#include <atomic>
#include <cstdint>

namespace fileaio::detail {

inline uint64_t this_thread_id() {
    static std::atomic<uint64_t> next{1};  // 0 means "nobody"
    thread_local const uint64_t id = next.fetch_add(1, std::memory_order_relaxed);
    return id;
}

}  // namespace fileaio::detail
