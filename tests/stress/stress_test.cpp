// Stress with data verification: 4 submitting threads, a waiter, a canceller and a waker on one
// context; mixed reads, writes and flushes; every block stamped with its offset, a generation
// and a checksum. At the end: lost = 0, duplicated = 0, corrupt = 0, and the stats balance.
//
// Duration per backend: FILEAIO_STRESS_SECONDS (default 15; `make soak` sets it higher).
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "fileaio/fileaio.h"
#include "support/temp_dir.hpp"

namespace fileaio::test {
namespace {

constexpr size_t block_size = 4096;
constexpr size_t blocks = 4096;  // a 16 MiB file
constexpr size_t submitters = 4;
constexpr size_t slots_per_submitter = 8;
constexpr size_t flush_every_writes = 64;
constexpr double default_seconds = 15;

enum class kind : int { read, write, flush };

struct stamp {
    uint64_t offset;
    uint64_t generation;
    uint64_t checksum;
};

uint64_t payload_byte_seed(uint64_t offset, uint64_t generation) {
    return offset * 0x9E3779B97F4A7C15ULL ^ (generation + 1) * 0xD1B54A32D192ED03ULL;
}

// Fills a block: the stamp, then bytes derived from (offset, generation), checksummed.
void fill_block(unsigned char *b, uint64_t offset, uint64_t generation) {
    std::mt19937_64 rng(payload_byte_seed(offset, generation));
    uint64_t sum = 0;
    for (size_t i = sizeof(stamp); i < block_size; i += 8) {
        uint64_t v = rng();
        std::memcpy(b + i, &v, 8);
        sum = sum * 31 + v;
    }
    stamp s{offset, generation, sum};
    std::memcpy(b, &s, sizeof s);
}

bool check_block(const unsigned char *b, uint64_t offset, uint64_t generation) {
    stamp s;
    std::memcpy(&s, b, sizeof s);
    if (s.offset != offset || s.generation != generation) return false;
    uint64_t sum = 0;
    for (size_t i = sizeof(stamp); i < block_size; i += 8) {
        uint64_t v;
        std::memcpy(&v, b + i, 8);
        sum = sum * 31 + v;
    }
    return sum == s.checksum;
}

struct slot {
    fileaio_req *req = nullptr;
    size_t owner = 0;
    kind what = kind::read;
    size_t block = 0;
    uint64_t generation = 0;
    std::atomic<int> in_flight{0};
    alignas(4096) unsigned char buf[block_size];
};

class stress : public ::testing::TestWithParam<fileaio_backend> {};

TEST_P(stress, mixed_io_with_cancels_and_wakeups_loses_duplicates_and_corrupts_nothing) {
    char reason[256] = "";
    if (fileaio_backend_probe(GetParam(), reason, sizeof reason) != 0)
        GTEST_SKIP() << fileaio_backend_name(GetParam()) << " unavailable: " << reason;
    const char *env = std::getenv("FILEAIO_STRESS_SECONDS");
    const double seconds = env != nullptr ? std::atof(env) : default_seconds;

    temp_dir dir;
    std::string path = dir.make_file("stress", 0);
    int fd = open_file(path, O_RDWR);
    ASSERT_GE(fd, 0);
    {
        std::vector<unsigned char> b(block_size);
        for (size_t i = 0; i < blocks; ++i) {
            fill_block(b.data(), i * block_size, 0);
            ASSERT_EQ(::pwrite(fd, b.data(), block_size, static_cast<off_t>(i * block_size)),
                      static_cast<ssize_t>(block_size));
        }
    }
    fileaio_ctx *ctx = nullptr;
    ASSERT_EQ(fileaio_ctx_create_ex(&ctx, submitters * slots_per_submitter, FILEAIO_CTX_WAIT_WITHOUT_PENDING,
                                    GetParam()),
              0);

    std::vector<std::unique_ptr<slot>> slots;
    for (size_t i = 0; i < submitters * slots_per_submitter; ++i) {
        auto s = std::make_unique<slot>();
        ASSERT_EQ(fileaio_req_create(&s->req), 0);
        s->owner = i / slots_per_submitter;
        slots.push_back(std::move(s));
    }
    // Per block: the generation its last completed write left, and whether a request is on it.
    // Blocks are owned by submitter (block % submitters), so only one request per block at a time.
    std::vector<uint64_t> expected(blocks, 0);
    std::vector<std::atomic<int>> busy(blocks);
    std::vector<uint64_t> next_generation(blocks, 1);

    std::atomic<bool> stop_submitting{false};
    std::atomic<bool> stop_all{false};
    std::atomic<uint64_t> submitted{0}, completed{0}, canceled{0}, duplicated{0}, corrupt{0}, failed{0};
    std::atomic<uint64_t> reads{0}, writes{0}, flushes{0}, wakeups{0}, interrupts{0}, cancel_tries{0};

    // Releases a finished slot: the bookkeeping of what it did, then the slot and its block.
    auto finish = [&](slot &s, int result, size_t moved, bool was_canceled) {
        if (s.in_flight.load(std::memory_order_acquire) != 1) {
            ++duplicated;
            return;
        }
        if (was_canceled) {
            if (result != FILEAIO_E_CANCELED || moved != 0) ++corrupt;
        } else if (result != 0) {
            ++failed;
            ADD_FAILURE() << "request failed: " << fileaio_errname(result);
        } else if (s.what == kind::write) {
            if (moved != block_size) ++corrupt;
            expected[s.block] = s.generation;  // only this block's owner writes it; ordered by busy
        } else if (s.what == kind::read) {
            if (moved != block_size || !check_block(s.buf, s.block * block_size, expected[s.block])) {
                ++corrupt;
                ADD_FAILURE() << "block " << s.block << " does not hold generation " << expected[s.block];
            }
        }
        if (s.what != kind::flush) busy[s.block].store(0, std::memory_order_release);
        s.in_flight.store(0, std::memory_order_release);
    };

    std::vector<std::thread> threads;
    for (size_t t = 0; t < submitters; ++t) {
        threads.emplace_back([&, t] {
            std::mt19937_64 rng(t * 7919 + 1);
            size_t writes_since_flush = 0;
            while (!stop_submitting.load(std::memory_order_relaxed)) {
                bool any = false;
                for (size_t k = 0; k < slots_per_submitter; ++k) {
                    slot &s = *slots[t * slots_per_submitter + k];
                    if (s.in_flight.load(std::memory_order_acquire) != 0) continue;
                    int rc = 0;
                    if (writes_since_flush >= flush_every_writes) {
                        s.what = kind::flush;
                        writes_since_flush = 0;
                        rc = fileaio_req_prepare_flush(s.req, fd, &s);
                        ++flushes;
                    } else {
                        size_t b = (rng() % (blocks / submitters)) * submitters + t;  // a block we own
                        if (busy[b].load(std::memory_order_acquire) != 0) continue;
                        busy[b].store(1, std::memory_order_relaxed);
                        s.block = b;
                        if (rng() % 3 == 0) {
                            s.what = kind::write;
                            s.generation = next_generation[b]++;
                            fill_block(s.buf, b * block_size, s.generation);
                            rc = fileaio_req_prepare_write(s.req, fd, static_cast<int64_t>(b * block_size), s.buf,
                                                           block_size, &s);
                            ++writes;
                            ++writes_since_flush;
                        } else {
                            s.what = kind::read;
                            std::memset(s.buf, 0, block_size);
                            rc = fileaio_req_prepare_read(s.req, fd, static_cast<int64_t>(b * block_size), s.buf,
                                                          block_size, &s);
                            ++reads;
                        }
                    }
                    EXPECT_EQ(rc, 0);
                    s.in_flight.store(1, std::memory_order_release);
                    rc = fileaio_ctx_submit(ctx, &s.req, 1, nullptr);
                    if (rc != 0) {
                        ADD_FAILURE() << "submit: " << fileaio_errname(rc);
                        s.in_flight.store(0);
                        if (s.what != kind::flush) busy[s.block].store(0);
                        continue;
                    }
                    ++submitted;
                    any = true;
                }
                if (!any) std::this_thread::yield();
            }
        });
    }
    threads.emplace_back([&] {  // the canceller
        std::mt19937_64 rng(99);
        while (!stop_all.load(std::memory_order_relaxed)) {
            slot &s = *slots[rng() % slots.size()];
            if (s.in_flight.load(std::memory_order_acquire) == 1) {
                ++cancel_tries;
                if (fileaio_req_cancel(s.req) == 0) {
                    size_t moved = 1;
                    int res = fileaio_req_get_result(s.req, &moved);
                    ++canceled;
                    finish(s, res, moved, true);
                }
            }
            std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
    });
    threads.emplace_back([&] {  // the waker
        while (!stop_all.load(std::memory_order_relaxed)) {
            fileaio_ctx_wakeup(ctx);
            ++wakeups;
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    });
    std::thread waiter([&] {
        fileaio_req *out[64];
        for (;;) {
            size_t count = 0;
            int rc = fileaio_ctx_wait(ctx, 1, 100, out, 64, &count);
            if (rc == FILEAIO_E_INTERRUPTED) ++interrupts;
            if (rc != 0 && rc != FILEAIO_E_INTERRUPTED && rc != FILEAIO_E_TIMEOUT) {
                ADD_FAILURE() << "wait: " << fileaio_errname(rc);
                return;
            }
            for (size_t i = 0; i < count; ++i) {
                size_t moved = 0;
                int res = fileaio_req_get_result(out[i], &moved);
                ++completed;
                finish(*static_cast<slot *>(fileaio_req_get_user(out[i])), res, moved, false);
            }
            if (stop_all.load(std::memory_order_acquire)) {
                fileaio_stats st{};
                fileaio_ctx_get_stats(ctx, &st);
                if (st.pending == 0) return;
            }
        }
    });

    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop_submitting = true;
    for (size_t t = 0; t < submitters; ++t) threads[t].join();
    stop_all = true;
    for (size_t t = submitters; t < threads.size(); ++t) threads[t].join();
    waiter.join();

    uint64_t lost = 0;
    for (auto &s : slots) lost += s->in_flight.load() != 0 ? 1 : 0;
    fileaio_stats st{};
    fileaio_ctx_get_stats(ctx, &st);
    std::printf("stress %s: %.0f s, %llu requests (%llu reads verified, %llu writes, %llu flushes), %llu cancelled "
                "of %llu tries, %llu wakeups -> %llu interrupts; lost %llu, duplicated %llu, corrupt %llu\n",
                fileaio_backend_name(GetParam()), seconds, static_cast<unsigned long long>(submitted.load()),
                static_cast<unsigned long long>(reads.load()), static_cast<unsigned long long>(writes.load()),
                static_cast<unsigned long long>(flushes.load()), static_cast<unsigned long long>(canceled.load()),
                static_cast<unsigned long long>(cancel_tries.load()), static_cast<unsigned long long>(wakeups.load()),
                static_cast<unsigned long long>(interrupts.load()), static_cast<unsigned long long>(lost),
                static_cast<unsigned long long>(duplicated.load()), static_cast<unsigned long long>(corrupt.load()));
    EXPECT_EQ(lost, 0u);
    EXPECT_EQ(duplicated.load(), 0u);
    EXPECT_EQ(corrupt.load(), 0u);
    EXPECT_EQ(failed.load(), 0u);
    EXPECT_LE(interrupts.load(), wakeups.load());
    EXPECT_EQ(st.submitted, submitted.load());
    EXPECT_EQ(st.completed, completed.load());
    EXPECT_EQ(st.canceled, canceled.load());
    EXPECT_EQ(st.pending, 0u);
    EXPECT_EQ(st.submitted, st.completed + st.canceled);

    // Finally every block must hold exactly what its last completed write put there.
    std::vector<unsigned char> b(block_size);
    for (size_t i = 0; i < blocks; ++i) {
        ASSERT_EQ(::pread(fd, b.data(), block_size, static_cast<off_t>(i * block_size)),
                  static_cast<ssize_t>(block_size));
        EXPECT_TRUE(check_block(b.data(), i * block_size, expected[i])) << "block " << i;
    }
    for (auto &s : slots) EXPECT_EQ(fileaio_req_destroy(s->req), 0);
    EXPECT_EQ(fileaio_ctx_destroy(ctx), 0);
    ::close(fd);
}

INSTANTIATE_TEST_SUITE_P(every_backend, stress, ::testing::ValuesIn(all_backends()),
                         [](const auto &param_info) { return backend_param_name(param_info.param); });

}  // namespace
}  // namespace fileaio::test
