// `fileaio info [PATH]`: what this machine offers each backend, and what PATH offers O_DIRECT.
#ifndef FILEAIO_CLI_INFO_HPP
#define FILEAIO_CLI_INFO_HPP

#include <optional>
#include <string_view>

namespace fileaio::cli {

// Prints the report on stdout; returns the exit status (1 when PATH cannot be examined).
[[nodiscard]] int run_info(std::optional<std::string_view> path);

}  // namespace fileaio::cli

#endif  // FILEAIO_CLI_INFO_HPP
