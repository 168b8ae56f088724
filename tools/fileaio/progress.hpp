// The progress line `fileaio bench` keeps on stderr while it runs, when stderr is a terminal.
#ifndef FILEAIO_CLI_PROGRESS_HPP
#define FILEAIO_CLI_PROGRESS_HPP

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace fileaio::cli {

inline constexpr std::uint64_t progress_interval_ns = 250'000'000;  // redrawn 4 times a second

// Where a run is, for one line of progress.
struct progress_state {
    std::size_t backend_index = 0;  // 0-based
    std::size_t backend_count = 1;
    std::string_view backend;
    double elapsed_s = 0.0;     // of this backend's measurement
    double runtime_s = 0.0;     // per backend; 0 = one pass (then fraction_done says how far)
    double fraction_done = 0.0; // for one pass: I/Os issued / I/Os of the pass
    double iops = 0.0;          // so far, in this measurement
};

// "[2/4] linux_aio  1.3/3.0 s  ETA 7.7 s  412,345 IOPS" into out (NUL-terminated, truncated to
// fit); returns its length. Never allocates.
std::size_t format_progress(const progress_state &state, std::span<char> out) noexcept;

// Draws the line with \r on stderr when stderr is a terminal; does nothing otherwise.
class progress_line {
public:
    progress_line();
    [[nodiscard]] bool enabled() const noexcept { return enabled_; }
    void draw(const progress_state &state) noexcept;
    void clear() noexcept;  // erases the line (before ordinary messages and at the end)

private:
    bool enabled_ = false;
    bool drawn_ = false;
};

}  // namespace fileaio::cli

#endif  // FILEAIO_CLI_PROGRESS_HPP
