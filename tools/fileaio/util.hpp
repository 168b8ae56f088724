// Small POSIX helpers shared by the commands.
#ifndef FILEAIO_CLI_UTIL_HPP
#define FILEAIO_CLI_UTIL_HPP

#include <fileaio/fileaio.h>

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>
#include <unistd.h>
#include <utility>

namespace fileaio::cli {

inline constexpr std::uint64_t ns_per_s = 1'000'000'000;
inline constexpr std::uint64_t ns_per_us = 1'000;

// CLOCK_MONOTONIC in nanoseconds.
inline std::uint64_t monotonic_ns() noexcept
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * ns_per_s + static_cast<std::uint64_t>(ts.tv_nsec);
}

// "EIO (Input/output error)" for a fileaio code or a -errno.
inline std::string describe_code(int code)
{
    return std::string(fileaio_errname(code)) + " (" + fileaio_strerror(code) + ")";
}

// The same for a positive errno value, as left by a failed system call.
inline std::string describe_errno(int err) { return describe_code(-err); }

// Appends printf-style text to out (any length).
[[gnu::format(printf, 2, 3)]] inline void append(std::string &out, const char *format, ...)
{
    constexpr std::size_t chunk = 256;
    char text[chunk];
    va_list args;
    va_start(args, format);
    va_list again;
    va_copy(again, args);
    const int n = std::vsnprintf(text, sizeof text, format, args);
    va_end(args);
    if (n > 0 && static_cast<std::size_t>(n) < sizeof text) {
        out.append(text, static_cast<std::size_t>(n));
    } else if (n > 0) {  // longer than the stack buffer: format straight into the string
        const std::size_t old_size = out.size();
        out.resize(old_size + static_cast<std::size_t>(n) + 1);
        std::vsnprintf(out.data() + old_size, static_cast<std::size_t>(n) + 1, format, again);
        out.resize(old_size + static_cast<std::size_t>(n));
    }
    va_end(again);
}

// An owned file descriptor, closed on destruction.
class unique_fd {
public:
    unique_fd() = default;
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(const unique_fd &) = delete;
    unique_fd &operator=(const unique_fd &) = delete;
    unique_fd(unique_fd &&other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    unique_fd &operator=(unique_fd &&other) noexcept
    {
        if (this != &other) {
            reset(std::exchange(other.fd_, -1));
        }
        return *this;
    }
    ~unique_fd() { reset(); }

    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
    void reset(int fd = -1) noexcept
    {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

}  // namespace fileaio::cli

#endif  // FILEAIO_CLI_UTIL_HPP
