// asio_cp SOURCE DEST — copies a file with Asio coroutines over fileaio (fileaio/asio.hpp).
//
// Four coroutines on one io_context each take the next 256 KiB chunk, co_await its read, then
// co_await its write at the same offset, until a read reports end of file; then one datasync
// makes DEST durable. Works on every fileaio backend (FILEAIO_BACKEND=thread_pool, ...): Asio
// programs get files, async fsync included, without io_uring.
//
// Build: c++ -std=c++20 asio_cp.cpp $(pkg-config --cflags --libs fileaio)   (needs libasio-dev)
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include <fileaio/asio.hpp>

namespace {

constexpr std::size_t chunk = 256 * 1024;
constexpr int workers = 4;

struct copy_state {
    fileaio::asio::file &src;
    fileaio::asio::file &dst;
    uint64_t next = 0;
    bool eof = false;
    int running = workers;
    std::error_code error;
};

asio::awaitable<void> worker(copy_state &s) {
    std::vector<unsigned char> buf(chunk);
    while (!s.eof && !s.error) {
        const uint64_t off = s.next;
        s.next += chunk;
        std::error_code ec;
        std::size_t n = co_await s.src.async_read_some_at(off, asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::eof || (!ec && n < chunk)) s.eof = true;  // the size is not trusted
        if (ec == asio::error::eof) break;
        if (ec) {
            s.error = ec;
            break;
        }
        co_await s.dst.async_write_some_at(off, asio::buffer(buf.data(), n), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) s.error = ec;
    }
    if (--s.running == 0 && !s.error) {  // the last one out: make it durable
        std::error_code ec;
        co_await s.dst.async_datasync(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) s.error = ec;
    }
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s SOURCE DEST\n", argv[0]);
        return 2;
    }
    const int in = ::open(argv[1], O_RDONLY | O_CLOEXEC);
    const int out = ::open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (in < 0 || out < 0) {
        std::perror(in < 0 ? argv[1] : argv[2]);
        return 1;
    }
    try {
        asio::io_context io;
        fileaio::context fctx(64);  // FILEAIO_BACKEND picks the backend
        fileaio::asio::context actx(io, fctx.native_handle());
        fileaio::asio::file src(actx, in), dst(actx, out);
        copy_state s{src, dst};
        for (int i = 0; i < workers; ++i) asio::co_spawn(io, worker(s), asio::detached);
        io.run();
        if (s.error) {
            std::fprintf(stderr, "asio_cp: %s\n", s.error.message().c_str());
            return 1;
        }
    } catch (const std::exception &e) {
        std::fprintf(stderr, "asio_cp: %s\n", e.what());
        return 1;
    }
    ::close(in);
    return ::close(out) == 0 ? 0 : 1;
}
