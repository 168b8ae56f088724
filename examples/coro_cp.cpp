// coro_cp SOURCE DEST — copies a file with C++20 coroutines over fileaio (fileaio/async.hpp).
//
// WORKERS coroutines each take the next CHUNK of SOURCE, read it, write the same bytes at the
// same offset of DEST, and take the next, until a read comes back short (end of file: the size
// is not trusted, so growing files and /proc files copy too). So at most WORKERS requests are in
// flight, WORKERS * CHUNK bytes of buffers in all, allocated once. When every worker is done one
// data sync makes DEST durable. Errors are std::error_code; nothing throws after start-up.
//
// Build: find_package(fileaio) and link fileaio::fileaio (see CMakeLists.txt here), C++20.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include <fileaio/async.hpp>

namespace {

constexpr std::size_t workers = 8;
constexpr std::size_t chunk = 128 * 1024;

struct copy_state {
    int in = -1;
    int out = -1;
    int64_t next = 0;       // the next chunk to take (the driver is one thread: no lock)
    bool at_end = false;    // a read came back short
    std::error_code error;  // the first error
};

fileaio::task<void> worker(fileaio::io_scheduler &io, copy_state &s, std::span<std::byte> buf) {
    while (!s.at_end && !s.error) {
        const int64_t off = s.next;
        s.next += static_cast<int64_t>(buf.size());
        auto [rec, got] = co_await io.read(s.in, off, buf);
        if (rec) {
            if (!s.error) s.error = rec;
            co_return;
        }
        if (got < buf.size()) s.at_end = true;  // end of file (a read is whole unless at EOF)
        if (got == 0) co_return;
        auto [wec, put] = co_await io.write(s.out, off, buf.first(got));
        if (wec && !s.error) s.error = wec;
        (void)put;  // whole on success: fileaio finishes short writes itself
    }
}

fileaio::task<std::error_code> sync_to_disk(fileaio::io_scheduler &io, int fd) {
    auto r = co_await io.datasync(fd);
    co_return r.error;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s SOURCE DEST\n", argv[0]);
        return 2;
    }
    copy_state s;
    s.in = ::open(argv[1], O_RDONLY | O_CLOEXEC);
    if (s.in < 0) {
        std::perror(argv[1]);
        return 1;
    }
    s.out = ::open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s.out < 0) {
        std::perror(argv[2]);
        return 1;
    }

    std::error_code ec;
    fileaio::context ctx = fileaio::context::create({.max_reqs = static_cast<uint32_t>(workers)}, ec);
    if (ec) {
        std::fprintf(stderr, "coro_cp: cannot create a fileaio context: %s\n", ec.message().c_str());
        return 1;
    }
    {
        fileaio::io_scheduler io(ctx, workers);
        std::vector<std::byte> buffers(workers * chunk);
        for (std::size_t i = 0; i < workers; ++i)
            fileaio::spawn(worker(io, s, std::span(buffers).subspan(i * chunk, chunk)));
        io.run();  // until every worker is done
        if (!s.error) s.error = fileaio::sync_wait(io, sync_to_disk(io, s.out));
    }
    if (s.error) {
        std::fprintf(stderr, "coro_cp: %s (%s)\n", s.error.message().c_str(), fileaio::errname(s.error));
        return 1;
    }
    if (::close(s.out) != 0) {
        std::perror("close");
        return 1;
    }
    ::close(s.in);
    std::printf("coro_cp: copied %s to %s on %s\n", argv[1], argv[2], fileaio::name(ctx.backend()));
    return 0;
}
