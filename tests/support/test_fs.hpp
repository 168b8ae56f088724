// Test support: a FUSE filesystem written for the test suite, served in-process by a thread of
// the test binary. Its files make slow and failing I/O deterministic:
//
//   gate  `gate_size` bytes of pattern_byte(offset). Every read blocks inside the daemon until the
//         test lets it through (release / release_all), so a test can hold requests in flight for
//         as long as it needs: cancel, timeout, wakeup and destroy-while-busy become deterministic.
//         Counters tell how many reads started, how many are blocked now and the most that were
//         blocked at once (which proves parallelism). Writes fail with EACCES.
//   eio   `eio_size` bytes, initially pattern_byte(offset). A read or write whose byte range
//         contains an offset marked with fail_at() fails with EIO; any other succeeds (writes are
//         kept in memory and read back; the file grows when written past its end). Options make
//         it harder to serve: `max_read_bytes` answers every read with at most that many bytes
//         (a short transfer the library must continue), `gate_writes` holds every write at the
//         gate like a read of `gate`. The daemon records the writes, fsyncs and reads of `eio`
//         in the order it served them (operations()), so a test can prove what reached the file
//         system when.
//
// Every file is opened with direct_io (unless options::page_cache): each read and write reaches
// the daemon (no page cache, no readahead), so the counters count exactly the reads the test
// issued (a request larger than the kernel's FUSE request size, 128 KiB by default, arrives as
// several reads).
//
// Thread safety: every member may be called from any thread, concurrently.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace fileaio::test {

class test_fs {
public:
    struct options {
        uint64_t gate_size = 1u << 20;
        uint64_t eio_size = 1u << 20;
        bool fsync_at_gate = false;  // an fsync of `gate` waits at the gate too (counted as a read)
        size_t max_read_bytes = 0;  // eio: answer each read with at most this many bytes (0: all)
        bool gate_writes = false;   // eio: every write waits at the gate (and counts as a gated op)
        // Files use the kernel's page cache (no direct_io), as most file systems do: reads then
        // arrive through readahead (whole pages, maybe more than asked, maybe fewer calls), so
        // the counters no longer count the test's reads one for one.
        bool page_cache = false;
    };

    // One operation of `eio` as the daemon served it. A write is recorded twice: when it arrives
    // (write_arrived, before the gate) and when it is answered (write_done).
    enum class op_kind { read, write_arrived, write_done, fsync };
    struct op_record {
        op_kind kind;
        uint64_t offset;  // 0 for fsync
        uint64_t size;    // bytes answered (read, write_done), asked (write_arrived), 0 for fsync
    };

    // Mounts a new instance on a fresh directory under $TMPDIR (or /tmp) and starts serving it;
    // returns once every daemon thread runs (a test may count this process's threads from then on).
    // Returns null, with a one-line reason in *why_not, when FUSE cannot be used here: built
    // without libfuse3, no usable /dev/fuse, not root and no fusermount3, or the mount refused.
    static std::unique_ptr<test_fs> mount(std::string *why_not, const options &opts);
    static std::unique_ptr<test_fs> mount(std::string *why_not) { return mount(why_not, options{}); }

    // Opens the gate for good, unmounts, stops the serving threads and removes the mount point.
    // Never hangs: if files are still open on the mount (so the kernel keeps the connection up)
    // the connection is aborted through fusectl; if even that fails, the serving thread is left
    // behind (and reported on stderr) rather than waited for forever. Close every file opened on
    // the mount before this runs, and let the requests on them finish: then none of that is needed.
    ~test_fs();
    test_fs(const test_fs &) = delete;
    test_fs &operator=(const test_fs &) = delete;

    const std::string &mount_point() const;
    std::string gate_path() const;  // mount_point() + "/gate"
    std::string eio_path() const;   // mount_point() + "/eio"

    // --- gate: a counting semaphore in front of every read of `gate` (and, with gate_writes,
    // every write of `eio`); the counters below count both ---
    // Lets k more reads through: blocked ones first (in no particular order), then later ones.
    void release(size_t k);
    // Opens the gate for good: every blocked read and every later read passes at once.
    void release_all();
    // From now on (on) or no longer (off): every getattr of `gate` and `eio` and every statfs of
    // the mount (a stat/fstat/fstatfs that asks the daemon) waits at the gate too, counted as a
    // read. Turn it on after opening the files (open looks the file up through getattr).
    void hold_metadata(bool on);
    uint64_t reads_started() const;   // reads that reached the gate, ever
    size_t reads_in_flight() const;   // reads blocked at the gate now
    size_t max_reads_in_flight() const;  // the most reads blocked at the gate at once, ever
    // Waits until at least n reads are blocked at the gate at once. False on timeout.
    bool wait_for_in_flight(size_t n, std::chrono::milliseconds timeout) const;

    // --- eio ---
    // Every later read or write of `eio` whose range [offset, offset + size) contains `offset` fails.
    void fail_at(uint64_t offset);
    uint64_t eio_failures() const;  // reads and writes of `eio` answered with EIO so far
    std::vector<op_record> operations() const;  // reads, writes and fsyncs of `eio`, in order
    uint64_t fsyncs() const;                    // fsyncs (and fdatasyncs) of any file served so far
    uint64_t eio_bytes_read() const;            // bytes of `eio` answered to reads so far
    // Waits until pred(operations so far) is true. False on timeout.
    bool wait_for_operations(const std::function<bool(const std::vector<op_record> &)> &pred,
                             std::chrono::milliseconds timeout) const;

    struct impl;

private:
    explicit test_fs(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

}  // namespace fileaio::test
