// Test support: turns a call that hangs into a test failure instead of a suite that hangs.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace fileaio::test {

// Runs fn() on this thread and tells whether it returned within `bound`. If it has not, a
// watchdog runs unblock() (which should end the wait fn() is stuck in: write into the pipe, open
// the gate), so fn() returns and the caller reports the failure. If fn() is still stuck `bound`
// after that, nothing can bring it back: the process aborts with `what` on stderr rather than
// hang the suite.
template <typename F, typename U>
bool returns_within(std::chrono::milliseconds bound, const char *what, F &&fn, U &&unblock) {
    std::mutex m;
    std::condition_variable cv;
    bool returned = false;
    bool late = false;
    std::thread watchdog([&] {
        std::unique_lock lock(m);
        if (cv.wait_for(lock, bound, [&] { return returned; })) return;
        late = true;
        lock.unlock();
        unblock();
        lock.lock();
        if (cv.wait_for(lock, bound, [&] { return returned; })) return;
        std::fprintf(stderr, "FATAL: %s: still blocked %lld ms after the watchdog tried to free it\n", what,
                     static_cast<long long>(2 * bound.count()));
        std::abort();
    });
    fn();
    {
        std::lock_guard lock(m);
        returned = true;
    }
    cv.notify_one();
    watchdog.join();
    return !late;
}

}  // namespace fileaio::test
