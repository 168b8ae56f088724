// Backend threads (workers, watchers, helpers) start with every signal blocked, so that the
// caller's signals are delivered to the caller's threads and never disturb ours.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <new>
#include <system_error>
#include <thread>
#include <utility>

#include "fileaio/fileaio.h"

namespace fileaio::detail {

// Starts f on a new thread with every signal blocked and stores it in *out (a std::thread, or a
// container's emplace_back through `start`). Returns 0, E_INSUFFICIENT_RESOURCES (the system
// refused a thread) or E_NO_MEMORY. Never throws.
template <class Start>
int start_quiet_thread(Start &&start) noexcept {
    sigset_t all;
    sigset_t old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = 0;
    try {
        std::forward<Start>(start)();
    } catch (const std::system_error &) {
        rc = FILEAIO_E_INSUFFICIENT_RESOURCES;
    } catch (const std::bad_alloc &) {
        rc = FILEAIO_E_NO_MEMORY;
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return rc;
}

}  // namespace fileaio::detail
