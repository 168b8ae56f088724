// Test support: sees two calls the library makes, from inside the process, by defining them in the
// test binary ahead of libc (symbol interposition: the library is a shared object and calls them
// through its PLT; call_probe.cpp forwards each call to the next definition, libc's).
// - pthread_create: which thread starts threads (a submit must never: the pool's staffer does).
// - preadv2 with RWF_NOWAIT into a buffer range given by hold_nowait_reads: such reads are held
//   (the caller blocks in the call) until release_nowait_reads, and their callers' thread ids are
//   recorded: a deterministic way to keep cached reads "being served" while another thread submits.
// - pwritev2 into a buffer range given by hold_writes: the same for writes (any flags): held until
//   release_writes, their callers' thread ids recorded in call order.
// Link call_probe.cpp into a test binary to use it. Not built under a sanitizer, which intercepts
// these calls itself: available() then says false and the tests skip.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fileaio::test::call_probe {

bool available();

// pthread_create calls the calling thread has made so far.
uint64_t threads_started_here();

// From now on, preadv2(RWF_NOWAIT) into [base, base + len) blocks until release_nowait_reads().
void hold_nowait_reads(const void *base, size_t len);
// Waits until `n` such reads are held at once; false after `limit`.
bool wait_held(size_t n, std::chrono::milliseconds limit);
// Lets the held reads (and later ones into the range) go, and stops holding.
void release_nowait_reads();
// The thread ids that called preadv2(RWF_NOWAIT) into the range since hold_nowait_reads.
std::vector<pid_t> nowait_readers();

// From now on, pwritev2 from [base, base + len) blocks until release_writes().
void hold_writes(const void *base, size_t len);
// Waits until `n` such writes are held at once; false after `limit`.
bool wait_writes_held(size_t n, std::chrono::milliseconds limit);
// Lets the held writes (and later ones from the range) go, and stops holding.
void release_writes();
// The thread ids that called pwritev2 from the range since hold_writes, one per call.
std::vector<pid_t> writers();

}  // namespace fileaio::test::call_probe
