// Test support: a setting of the process or the machine changed for one test and put back however
// the test ends (pass, fail or skip).
#pragma once

#include <cstdlib>
#include <fstream>
#include <string>

namespace fileaio::test {

// FILEAIO_BACKEND unset, so that AUTO really chooses; restored as it was.
class backend_env_unset {
public:
    backend_env_unset() {
        const char *v = std::getenv("FILEAIO_BACKEND");
        had_ = v != nullptr;
        if (had_) old_ = v;
        ::unsetenv("FILEAIO_BACKEND");
    }
    ~backend_env_unset() {
        if (had_) ::setenv("FILEAIO_BACKEND", old_.c_str(), 1);
    }
    backend_env_unset(const backend_env_unset &) = delete;
    backend_env_unset &operator=(const backend_env_unset &) = delete;

private:
    bool had_ = false;
    std::string old_;
};

// A sysctl (a file under /proc/sys) with another value; the value it had is written back.
class sysctl_guard {
public:
    explicit sysctl_guard(const char *path) : path_(path) {
        std::ifstream in(path);
        readable_ = static_cast<bool>(in >> original_);
    }
    ~sysctl_guard() {
        if (!changed_) return;
        std::ofstream out(path_);
        out << original_ << std::flush;
    }
    sysctl_guard(const sysctl_guard &) = delete;
    sysctl_guard &operator=(const sysctl_guard &) = delete;

    // Whether the sysctl exists and its value could be read (and so can be put back).
    bool readable() const { return readable_; }

    // Writes value; false when the old one could not be read or the new one not written.
    bool set(const std::string &value) {
        if (!readable_) return false;
        changed_ = true;
        std::ofstream out(path_);
        out << value << std::flush;
        return static_cast<bool>(out);
    }

private:
    const char *path_;
    std::string original_;
    bool readable_ = false;
    bool changed_ = false;
};

}  // namespace fileaio::test
