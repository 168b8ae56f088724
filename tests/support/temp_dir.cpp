#include "temp_dir.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <gtest/gtest.h>

namespace fileaio::test {

temp_dir::temp_dir() {
    const char *base = std::getenv("TMPDIR");
    std::string templ = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/fileaio-test-XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
    path_ = buf.data();
}

temp_dir::~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::string temp_dir::make_file(const std::string &name, uint64_t size) {
    std::string p = path_ + "/" + name;
    int fd = ::open(p.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("open " + p + ": " + std::strerror(errno));
    constexpr size_t chunk = 1 << 20;
    std::vector<unsigned char> buf(chunk);
    for (uint64_t off = 0; off < size; off += chunk) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(chunk, size - off));
        for (size_t i = 0; i < n; ++i) buf[i] = pattern_byte(off + i);
        if (::pwrite(fd, buf.data(), n, static_cast<off_t>(off)) != static_cast<ssize_t>(n)) {
            ::close(fd);
            throw std::runtime_error("pwrite " + p + ": " + std::strerror(errno));
        }
    }
    ::close(fd);
    return p;
}

int open_file(const std::string &path, int flags) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
    if (fd < 0) ADD_FAILURE() << "open " << path << ": " << std::strerror(errno);
    return fd;
}

std::vector<fileaio_backend> all_backends() {
    return {FILEAIO_BACKEND_IO_URING, FILEAIO_BACKEND_LINUX_AIO, FILEAIO_BACKEND_POSIX_AIO,
            FILEAIO_BACKEND_THREAD_POOL};
}

std::string backend_param_name(fileaio_backend b) { return fileaio_backend_name(b); }

}  // namespace fileaio::test
