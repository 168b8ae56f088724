#include "progress.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unistd.h>

namespace fileaio::cli {
namespace {

constexpr std::size_t line_size = 160;
constexpr const char *erase_to_end = "\033[K";  // ANSI: clear from the cursor to the end of the line

// "1,234,567": digit groups make a moving number readable.
std::size_t format_count(double value, char *out, std::size_t size) noexcept
{
    if (!(value >= 0.0) || !std::isfinite(value)) {
        value = 0.0;
    }
    auto n = static_cast<unsigned long long>(std::llround(value));
    char digits[32];
    std::size_t len = 0;
    do {
        if (len % 4 == 3) {
            digits[len++] = ',';
        }
        digits[len++] = static_cast<char>('0' + n % 10);
        n /= 10;
    } while (n != 0 && len + 1 < sizeof digits);
    std::size_t written = 0;
    while (len > 0 && written + 1 < size) {
        out[written++] = digits[--len];
    }
    out[written] = '\0';
    return written;
}

void write_all(const char *text, std::size_t size) noexcept
{
    while (size > 0) {
        const ssize_t n = ::write(STDERR_FILENO, text, size);
        if (n <= 0) {
            return;  // a progress line is not worth retrying for
        }
        text += n;
        size -= static_cast<std::size_t>(n);
    }
}

}  // namespace

std::size_t format_progress(const progress_state &state, std::span<char> out) noexcept
{
    if (out.empty()) {
        return 0;
    }
    char iops[32];
    format_count(state.iops, iops, sizeof iops);
    int n = 0;
    if (state.runtime_s > 0) {
        const double left_here = std::max(0.0, state.runtime_s - state.elapsed_s);
        const double later = static_cast<double>(state.backend_count - state.backend_index - 1) * state.runtime_s;
        n = std::snprintf(out.data(), out.size(), "[%zu/%zu] %.*s  %.1f/%.1f s  ETA %.1f s  %s IOPS",
                          state.backend_index + 1, state.backend_count, static_cast<int>(state.backend.size()),
                          state.backend.data(), std::min(state.elapsed_s, state.runtime_s), state.runtime_s,
                          left_here + later, iops);
    } else {
        n = std::snprintf(out.data(), out.size(), "[%zu/%zu] %.*s  %.1f s  %.0f%% of one pass  %s IOPS",
                          state.backend_index + 1, state.backend_count, static_cast<int>(state.backend.size()),
                          state.backend.data(), state.elapsed_s, std::min(1.0, state.fraction_done) * 100.0, iops);
    }
    if (n < 0) {
        out[0] = '\0';
        return 0;
    }
    return std::min(static_cast<std::size_t>(n), out.size() - 1);
}

progress_line::progress_line() : enabled_(::isatty(STDERR_FILENO) == 1) {}

void progress_line::draw(const progress_state &state) noexcept
{
    if (!enabled_) {
        return;
    }
    char line[line_size];
    line[0] = '\r';
    std::size_t len = 1 + format_progress(state, std::span<char>(line + 1, sizeof line - 1));
    for (const char *p = erase_to_end; *p != '\0' && len < sizeof line; ++p) {
        line[len++] = *p;
    }
    write_all(line, len);
    drawn_ = true;
}

void progress_line::clear() noexcept
{
    if (!enabled_ || !drawn_) {
        return;
    }
    constexpr char erase[] = "\r\033[K";
    write_all(erase, sizeof erase - 1);
    drawn_ = false;
}

}  // namespace fileaio::cli
