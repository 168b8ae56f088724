// fuzz_make_seeds <dir>: writes the hand-written seed inputs of api_fuzzer (program.hpp), one
// scenario per file and per backend index: plain and vectored reads and writes checked against
// the data file, flush barriers, cancels, wakeups (also from another thread), a wait on another
// thread during submits and cancels, the limit, two contexts, registered buffers and associated
// files, and every class of invalid argument. The
// corpus in tests/fuzz/corpus started from these and was grown and minimized by libFuzzer.
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include <sys/stat.h>

#include "program.hpp"

namespace {

using namespace fileaio::fuzz;

constexpr uint8_t ctx0 = 0, ctx1 = 1;
constexpr uint8_t forever = wait_forever;
constexpr uint8_t ms20 = 4;
constexpr uint8_t ms2 = 2;
constexpr uint8_t poll = 0;
constexpr uint8_t cap64 = 0x80;

uint8_t lo(unsigned v) { return static_cast<uint8_t>(v & 0xff); }
uint8_t hi(unsigned v) { return static_cast<uint8_t>((v >> 8) & 0xff); }

struct program {
    std::vector<uint8_t> bytes;

    program(uint8_t backend, uint8_t max_reqs, uint8_t flags)
        : bytes{backend, static_cast<uint8_t>(max_reqs - 1), flags} {}

    program &op(opcode o, std::initializer_list<uint8_t> args = {})
    {
        bytes.push_back(static_cast<uint8_t>(o));
        std::vector<uint8_t> a(args);
        a.resize(operand_count[static_cast<size_t>(o)], 0);
        bytes.insert(bytes.end(), a.begin(), a.end());
        return *this;
    }

    // size >= 1; offsets below 64 KiB (the harness keeps data-file writes inside the file).
    program &read(uint8_t req, uint8_t fd, unsigned offset, unsigned size, uint8_t fault = 0)
    {
        return op(opcode::prepare_read, {req, fd, lo(offset), hi(offset), lo(size - 1), hi(size - 1), fault, 0});
    }
    program &write(uint8_t req, uint8_t fd, unsigned offset, unsigned size, uint8_t fault = 0)
    {
        return op(opcode::prepare_write, {req, fd, lo(offset), hi(offset), lo(size - 1), hi(size - 1), fault, 0});
    }
    program &readv(uint8_t req, uint8_t fd, unsigned offset, uint8_t count, uint8_t seed, uint8_t fault = 0)
    {
        return op(opcode::prepare_readv, {req, fd, lo(offset), hi(offset), static_cast<uint8_t>(count - 1), seed, fault, 0});
    }
    program &writev(uint8_t req, uint8_t fd, unsigned offset, uint8_t count, uint8_t seed, uint8_t fault = 0)
    {
        return op(opcode::prepare_writev, {req, fd, lo(offset), hi(offset), static_cast<uint8_t>(count - 1), seed, fault, 0});
    }
    program &flush(uint8_t req, uint8_t fd = fd_data) { return op(opcode::prepare_flush, {req, fd, 0, 0}); }
    program &datasync(uint8_t req, uint8_t fd = fd_data) { return op(opcode::prepare_datasync, {req, fd, 0, 0}); }
    program &submit(uint8_t ctx, std::initializer_list<uint8_t> reqs, uint8_t variant = 0)
    {
        std::vector<uint8_t> a{ctx, static_cast<uint8_t>(reqs.size()), variant};
        a.insert(a.end(), reqs.begin(), reqs.end());
        bytes.push_back(static_cast<uint8_t>(opcode::submit));
        a.resize(operand_count[static_cast<size_t>(opcode::submit)], 0);
        bytes.insert(bytes.end(), a.begin(), a.end());
        return *this;
    }
    program &wait(uint8_t ctx, uint8_t min, uint8_t timeout, uint8_t cap = cap64, uint8_t variant = 0)
    {
        return op(opcode::wait, {ctx, min, cap, timeout, variant});
    }
    program &cancel(uint8_t req) { return op(opcode::cancel, {req}); }
    program &check() { return op(opcode::check_data); }
};

struct seed {
    std::string name;
    std::vector<uint8_t> bytes;
};

void scenarios(uint8_t b, std::vector<seed> &out)
{
    const std::string suffix = "-b" + std::to_string(b);
    auto add = [&](const char *name, const program &p) { out.push_back({name + suffix, p.bytes}); };

    // A read of the data file, checked byte for byte; then one across its end.
    add("read", program(b, 8, 0)
                    .read(0, fd_data, 4096, 4096)
                    .submit(ctx0, {0})
                    .wait(ctx0, 1, forever)
                    .read(0, fd_data_ro, 65536 - 100, 4096)
                    .submit(ctx0, {0})
                    .wait(ctx0, 1, forever));

    // Writes, a flush behind them (the barrier), read back, and the file checked.
    add("write_flush_read", program(b, 8, 0)
                                .write(0, fd_data, 0, 8192)
                                .write(1, fd_data, 8192, 100)
                                .flush(2)
                                .submit(ctx0, {0, 1, 2})
                                .wait(ctx0, 3, forever)
                                .read(3, fd_data, 0, 16384)
                                .datasync(0)
                                .submit(ctx0, {3, 0})
                                .wait(ctx0, 2, forever)
                                .check());

    // Overlapping writes in flight together (the model forgets the range), then settled.
    add("overlap", program(b, 8, 0)
                       .write(0, fd_data, 1000, 3000)
                       .write(1, fd_data, 2000, 3000)
                       .read(2, fd_data, 0, 8192)
                       .submit(ctx0, {0, 1, 2})
                       .wait(ctx0, 3, forever)
                       .check()
                       .read(2, fd_data, 0, 8192)
                       .submit(ctx0, {2})
                       .wait(ctx0, 1, forever));

    // Vectored requests, IOV_MAX elements, and their faults.
    add("vectored", program(b, 8, 0)
                        .writev(0, fd_data, 512, 5, 7)
                        .readv(1, fd_data, 0, 16, 3)
                        .readv(2, fd_data, 0, 1, 0, vec_iov_max)
                        .submit(ctx0, {0, 1, 2})
                        .wait(ctx0, 3, forever)
                        .readv(3, fd_data, 0, 3, 1, vec_null_iov)
                        .readv(3, fd_data, 0, 3, 1, vec_zero_count)
                        .readv(3, fd_data, 0, 3, 1, vec_negative_count)
                        .readv(3, fd_data, 0, 3, 1, vec_too_many)
                        .readv(3, fd_data, 0, 3, 1, vec_null_base)
                        .writev(3, fd_data, 0, 3, 1, vec_zero_total)
                        .writev(3, fd_data, 0, 3, 1, vec_total_overflow)
                        .writev(3, fd_data, 0, 3, 1, vec_negative_offset)
                        .writev(3, fd_data, 0, 3, 1, vec_negative_fd)
                        .writev(3, fd_scratch, 0, 3, 1, vec_range_overflow)
                        .check());

    // Cancels: of requests in flight, twice, of prepared and completed ones; then drained.
    add("cancel", program(b, 16, 0)
                      .write(0, fd_data, 0, 16384)
                      .write(1, fd_data, 16384, 16384)
                      .flush(2)
                      .read(3, fd_data, 0, 16384)
                      .submit(ctx0, {0, 1, 2, 3})
                      .cancel(3)
                      .cancel(2)
                      .cancel(1)
                      .cancel(0)
                      .cancel(0)
                      .wait(ctx0, 1, ms20)
                      .cancel(0)
                      .check());

    // Wakeups: before a wait, twice (coalesced), from another thread, on an empty context.
    add("wakeup", program(b, 8, 0)
                      .read(0, fd_data, 0, 4096)
                      .submit(ctx0, {0})
                      .op(opcode::wakeup, {ctx0})
                      .op(opcode::wakeup, {ctx0})
                      .wait(ctx0, 1, forever)
                      .wait(ctx0, 1, forever)
                      .op(opcode::wakeup_later, {ctx0, 2})
                      .wait(ctx0, 1, ms20)
                      .op(opcode::wakeup, {ctx0})
                      .wait(ctx0, 0, poll));

    // FILEAIO_CTX_WAIT_WITHOUT_PENDING: a wait on an empty context times out, or is woken.
    add("wait_without_pending", program(b, 4, 1)
                                    .wait(ctx0, 1, ms2)
                                    .op(opcode::wakeup_later, {ctx0, 1})
                                    .wait(ctx0, 1, ms20)
                                    .op(opcode::wakeup, {ctx0})
                                    .wait(ctx0, 1, forever));

    // The limit: max_reqs 2, a batch of 3 refused, 2 accepted, a third refused until a wait.
    add("limit", program(b, 2, 0)
                     .read(0, fd_data, 0, 512)
                     .read(1, fd_data, 512, 512)
                     .read(2, fd_data, 1024, 512)
                     .submit(ctx0, {0, 1, 2})
                     .submit(ctx0, {0, 1})
                     .submit(ctx0, {2})
                     .wait(ctx0, 1, forever, 1)
                     .wait(ctx0, 1, forever, 1));

    // Bad batches and bad waits, each with its exact code; a destroy while busy.
    add("bad_submit_wait", program(b, 8, 0)
                               .read(0, fd_data, 0, 512)
                               .read(1, fd_data, 0, 512)
                               .submit(ctx0, {0, 0})
                               .submit(ctx0, {0, req_null})
                               .submit(ctx0, {0, req_dead})
                               .submit(ctx0, {0, 5})
                               .submit(ctx0, {0, 2})
                               .submit(ctx0, {})
                               .submit(ctx0, {0}, submit_null_reqs)
                               .submit(ctx_null, {0})
                               .submit(ctx_dead, {0})
                               .wait(ctx0, 1, poll)
                               .submit(ctx0, {0, 1}, submit_null_out)
                               .submit(ctx0, {0})
                               .op(opcode::ctx_destroy, {ctx0})
                               .op(opcode::req_destroy, {0})
                               .wait(ctx0, 5, poll, 3)
                               .wait(ctx0, 1, poll, 4, wait_null_completed)
                               .wait(ctx0, 1, poll, 4, wait_null_count)
                               .wait(ctx0, 1, poll, 4, wait_zero_capacity)
                               .wait(ctx_null, 1, poll)
                               .wait(ctx_dead, 1, poll)
                               .wait(ctx0, 2, forever)
                               .wait(ctx0, 1, poll)
                               .op(opcode::ctx_destroy, {ctx_dead})
                               .op(opcode::ctx_destroy, {ctx_null})
                               .op(opcode::req_destroy, {req_dead})
                               .op(opcode::req_destroy, {req_null})
                               .op(opcode::req_destroy, {0})
                               .op(opcode::req_create, {0, 7})
                               .op(opcode::req_create, {0})
                               .op(opcode::ctx_destroy, {ctx0}));

    // Every invalid prepare argument, on prepared and on submitted requests.
    program bad(b, 8, 0);
    bad.read(0, fd_data, 0, 100).submit(ctx0, {0});
    for (uint8_t f = io_ok_last + 1; f < io_faults; ++f) bad.read(1, fd_data, 0, 100, f).write(1, fd_scratch, 0, 100, f);
    bad.read(0, fd_data, 0, 100, io_null_buffer).write(0, fd_data, 0, 100);
    bad.read(req_null, fd_data, 0, 100).read(req_dead, fd_data, 0, 100);
    bad.op(opcode::prepare_flush, {1, fd_data, 3, 0}).op(opcode::prepare_datasync, {1, fd_data, 7, 0});
    bad.flush(0).cancel(req_null).cancel(req_dead).cancel(1);
    bad.op(opcode::get_result, {req_null}).op(opcode::get_result, {req_dead}).op(opcode::get_result, {0, 1});
    bad.op(opcode::get_stats, {ctx_null}).op(opcode::get_stats, {ctx_dead}).op(opcode::get_stats, {ctx0, 1});
    bad.wait(ctx0, 1, forever);
    add("bad_prepare", bad);

    // The files the kernel refuses: a closed fd, a directory, a read-only fd, the far end of a file.
    add("kernel_errors", program(b, 16, 0)
                             .read(0, fd_closed, 0, 100)
                             .write(1, fd_dir, 0, 100)
                             .read(2, fd_dir, 0, 100)
                             .write(3, fd_data_ro, 0, 100)
                             .op(opcode::req_create, {4})
                             .op(opcode::req_create, {5})
                             .op(opcode::req_create, {6})
                             .op(opcode::req_create, {7})
                             .flush(4, fd_closed)
                             .datasync(5, fd_dir)
                             .write(6, fd_scratch, 0xc000 | 5, 4096)
                             .write(7, fd_scratch, 0x8000 | 100, 16384)
                             .submit(ctx0, {0, 1, 2, 3, 4, 5, 6, 7})
                             .wait(ctx0, 8, forever)
                             .write(6, fd_scratch, 0x4000, 4096)
                             .read(7, fd_scratch, 0xc000, 4096)
                             .flush(0, fd_scratch)
                             .submit(ctx0, {6, 7, 0})
                             .wait(ctx0, 3, forever));

    // Two contexts: another backend, requests moving between them, a request in flight on one
    // submitted to the other, waits on the wrong one.
    add("two_contexts", program(b, 8, 0)
                            .op(opcode::ctx_create, {ctx1, 3, 0, static_cast<uint8_t>(b + 1), 1})
                            .read(0, fd_data, 0, 4096)
                            .write(1, fd_data, 4096, 4096)
                            .submit(ctx0, {0})
                            .submit(ctx1, {0, 1})
                            .submit(ctx1, {1})
                            .wait(ctx1, 1, ms2)
                            .wait(ctx0, 1, forever)
                            .submit(ctx1, {0})
                            .wait(ctx1, 2, forever)
                            .op(opcode::ctx_destroy, {ctx1})
                            .op(opcode::ctx_create, {ctx1, 0, 0, static_cast<uint8_t>(b + 2), 0x20})
                            .flush(2)
                            .submit(ctx1, {2})
                            .check());

    // Context creation: every fault, every api, AUTO.
    program create(b, 8, 0);
    for (uint8_t f = 0; f < 16; ++f) {
        create.op(opcode::ctx_create, {2, 3, 0, static_cast<uint8_t>(b + f), static_cast<uint8_t>(f | ((f % 3) << 4))});
        create.op(opcode::ctx_destroy, {2});
    }
    create.op(opcode::ctx_create, {3, 0, 1, 4, 0}).op(opcode::ctx_create, {3, 0, 1, 4, 0x14});
    add("create", create);

    // Registered buffers (fixed reads and writes on io_uring), associated files.
    add("buffers_files", program(b, 8, 0)
                             .op(opcode::register_buffers, {ctx0, buffers_whole_pool})
                             .op(opcode::associate, {ctx0, fd_data})
                             .op(opcode::associate, {ctx0, fd_closed})
                             .op(opcode::associate, {ctx0, fd_negative})
                             .write(0, fd_data, 0, 4096)
                             .read(1, fd_data, 0, 4096)
                             .submit(ctx0, {0})
                             .op(opcode::register_buffers, {ctx0, buffers_each_slot})
                             .op(opcode::unregister_buffers, {ctx0})
                             .wait(ctx0, 1, forever)
                             .submit(ctx0, {1})
                             .wait(ctx0, 1, forever)
                             .op(opcode::register_buffers, {ctx0, buffers_part_of_slot, 3, 1})
                             .op(opcode::register_buffers, {ctx0, buffers_two_regions, 0, 1})
                             .op(opcode::register_buffers, {ctx0, buffers_null_iov})
                             .op(opcode::register_buffers, {ctx0, buffers_zero_count})
                             .op(opcode::register_buffers, {ctx0, buffers_zero_count, 0, 1})
                             .op(opcode::register_buffers, {ctx0, buffers_null_base})
                             .op(opcode::register_buffers, {ctx0, buffers_zero_length})
                             .writev(0, fd_data, 0, 4, 9)
                             .submit(ctx0, {0})
                             .wait(ctx0, 1, forever)
                             .op(opcode::unregister_buffers, {ctx0})
                             .op(opcode::unregister_buffers, {ctx_dead})
                             .check());

    // A registered buffer inside slot 1: buffers below it, above it and across its end are not in
    // it (a buffer above the last registered one was once taken for a fixed buffer: EFAULT).
    add("registered_gap", program(b, 8, 0)
                              .op(opcode::register_buffers, {ctx0, buffers_part_of_slot, 3, 1})
                              .read(0, fd_data, 0, 512)
                              .read(1, fd_data, 512, 512)
                              .read(2, fd_data, 1024, 512)
                              .write(3, fd_data, 4096, 512)
                              .submit(ctx0, {0, 1, 2, 3})
                              .wait(ctx0, 4, forever)
                              .check());

    // The calls without a context: probe, limits, alignment, error names.
    program misc(b, 8, 0);
    for (uint8_t what = 0; what < 7; ++what)
        for (int x : {0, 1, 2, 3, 4, 5, 0x41, 0x82, 0x85, 0xff}) misc.op(opcode::misc, {what, static_cast<uint8_t>(x)});
    add("misc", misc);

    // A second thread waits while this one submits, cancels and wakes up.
    add("concurrent", program(b, 8, 0)
                          .read(0, fd_data, 0, 4096)
                          .read(1, fd_data, 4096, 4096)
                          .write(2, fd_data, 8192, 4096)
                          .flush(3)
                          .submit(ctx0, {0})
                          .op(opcode::concurrent, {ctx0, 3, 0, 3 | 1 << 3, 2, 3, 2})
                          .wait(ctx0, 1, ms20)
                          .read(0, fd_data, 0, 16384)
                          .write(1, fd_data, 0, 16384)
                          .submit(ctx0, {1})
                          .op(opcode::concurrent, {ctx0, 0, 1, 1, 1, 0, 3})
                          .op(opcode::concurrent, {ctx0, 0, 0, 0, req_null, req_dead, 1})
                          .check());

    // Many small requests in batches, polled and waited for in pieces.
    program many(b, 16, 0);
    for (uint8_t r = 4; r < req_slots; ++r) many.op(opcode::req_create, {r});
    for (uint8_t r = 0; r < req_slots; ++r) {
        if (r % 3 == 0) many.write(r, fd_data, r * 4096u, 4096);
        else many.read(r, fd_data, r * 1000u, 2000);
    }
    many.submit(ctx0, {0, 1, 2, 3, 4, 5, 6, 7}).submit(ctx0, {}, submit_prepared)
        .op(opcode::submit, {ctx0, 8, submit_prepared, 8})
        .wait(ctx0, 0, poll, 2).wait(ctx0, 4, ms20, 5).wait(ctx0, 8, forever, 8).wait(ctx0, 1, ms20).check();
    add("many", many);
}

}  // namespace

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <dir>\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
        std::perror(dir.c_str());
        return 1;
    }
    std::vector<seed> seeds;
    for (uint8_t backend = 0; backend < 4; ++backend) scenarios(backend, seeds);
    for (const seed &s : seeds) {
        const std::string path = dir + "/seed-" + s.name;
        std::FILE *f = std::fopen(path.c_str(), "wb");
        if (f == nullptr || std::fwrite(s.bytes.data(), 1, s.bytes.size(), f) != s.bytes.size() || std::fclose(f) != 0) {
            std::perror(path.c_str());
            return 1;
        }
    }
    std::printf("%zu seeds written to %s\n", seeds.size(), dir.c_str());
    return 0;
}
