// Test support: the descriptors every conformance test of data and requests runs on (issue 10,
// "the suite's new rule"): a regular file buffered and O_DIRECT, a pipe, the FUSE test file
// (test_fs's `eio`) and a file on tmpfs. A test body is written once; a descriptor kind is never
// chosen per backend. Where an operation means nothing on a kind (an offset on a pipe), the test
// skips with that reason; a backend that cannot serve a kind fails the test.
//
// Every kind works with O_DIRECT-aligned buffers and block-multiple sizes, so one body fits all.
#pragma once

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"
#include "support/test_fs.hpp"

namespace fileaio::test {

enum class file_kind { buffered, direct, pipe, fuse, tmpfs };

inline std::vector<file_kind> all_file_kinds() {
    return {file_kind::buffered, file_kind::direct, file_kind::pipe, file_kind::fuse, file_kind::tmpfs};
}

inline const char *file_kind_name(file_kind k) {
    switch (k) {
    case file_kind::buffered: return "buffered";
    case file_kind::direct: return "direct";
    case file_kind::pipe: return "pipe";
    case file_kind::fuse: return "fuse";
    case file_kind::tmpfs: return "tmpfs";
    }
    return "unknown";
}

// gtest prints the parameter by name.
inline void PrintTo(file_kind k, std::ostream *os) { *os << file_kind_name(k); }

// A descriptor of one kind. For a file, rfd == wfd (opened O_RDWR). For a pipe, requests that
// read use the read end and requests that write use the write end.
struct io_target {
    file_kind kind = file_kind::buffered;
    int rfd = -1;
    int wfd = -1;
    test_fs *fs = nullptr;  // the FUSE kind's file system (its counters and record)

    bool seekable() const { return kind != file_kind::pipe; }
};

// Makes descriptors of every kind and undoes everything at its end: closes the descriptors, then
// unmounts the FUSE file systems and the tmpfs (the temp dir itself is the owner's).
class kind_files {
public:
    explicit kind_files(temp_dir &dir) : dir_(dir) {}
    ~kind_files() {
        for (int fd : fds_) ::close(fd);
        fs_.clear();
        if (tmpfs_mounted_) ::umount2(tmpfs_path().c_str(), MNT_DETACH);
    }
    kind_files(const kind_files &) = delete;
    kind_files &operator=(const kind_files &) = delete;

    // A descriptor of `kind` whose first `size` bytes are pattern_byte(offset): a file of `size`
    // bytes, or a pipe with `size` bytes waiting in it (its write end stays open until
    // end_of_stream). False, with the reason in *why, when this machine cannot make that kind.
    bool make(file_kind kind, uint64_t size, io_target *out, std::string *why,
              const test_fs::options &fs_opts = test_fs::options{}) {
        out->kind = kind;
        switch (kind) {
        case file_kind::buffered:
        case file_kind::direct: {
            std::string path = dir_.make_file("f" + std::to_string(fds_.size()), size);
            return open_file_kind(path, kind == file_kind::direct ? O_DIRECT : 0, out, why);
        }
        case file_kind::tmpfs: {
            if (!mount_tmpfs(why)) return false;
            std::string path = tmpfs_path() + "/f" + std::to_string(fds_.size());
            if (!fill(path, size, why)) return false;
            return open_file_kind(path, 0, out, why);
        }
        case file_kind::fuse: {
            test_fs::options o = fs_opts;
            o.eio_size = size;
            std::string reason;
            auto fs = test_fs::mount(&reason, o);
            if (!fs) {
                *why = "FUSE test filesystem unavailable: " + reason;
                return false;
            }
            out->fs = fs.get();
            std::string path = fs->eio_path();
            fs_.push_back(std::move(fs));
            return open_file_kind(path, 0, out, why);
        }
        case file_kind::pipe: {
            int p[2];
            if (::pipe2(p, O_CLOEXEC) != 0) {
                *why = std::string("pipe2: ") + std::strerror(errno);
                return false;
            }
            fds_.push_back(p[0]);
            fds_.push_back(p[1]);
            // Room for what the tests put in at once (1 MiB is the default pipe-max-size).
            if (size > 65536) ::fcntl(p[1], F_SETPIPE_SZ, static_cast<int>(size));
            out->rfd = p[0];
            out->wfd = p[1];
            std::vector<unsigned char> bytes(size);
            for (size_t i = 0; i < size; ++i) bytes[i] = pattern_byte(i);
            size_t done = 0;
            while (done < size) {
                ssize_t n = ::write(p[1], bytes.data() + done, size - done);
                if (n <= 0) {
                    *why = std::string("writing the pipe: ") + std::strerror(errno);
                    return false;
                }
                done += static_cast<size_t>(n);
            }
            return true;
        }
        }
        *why = "unknown kind";
        return false;
    }

    // A pipe's writer goes away: reads past what is in it then see end of file. No-op for files.
    void end_of_stream(io_target &t) {
        if (t.kind != file_kind::pipe || t.wfd < 0) return;
        std::erase(fds_, t.wfd);
        ::close(t.wfd);
        t.wfd = -1;
    }

    // Closes every descriptor made so far (before the file systems they live on go away).
    void close_all() {
        for (int fd : fds_) ::close(fd);
        fds_.clear();
    }

private:
    std::string tmpfs_path() const { return dir_.path() + "/tmpfs"; }

    bool mount_tmpfs(std::string *why) {
        if (tmpfs_mounted_) return true;
        if (::geteuid() != 0) {
            *why = "not root: cannot mount a tmpfs for the tmpfs descriptor kind";
            return false;
        }
        std::string p = tmpfs_path();
        if (::mkdir(p.c_str(), 0700) != 0 && errno != EEXIST) {
            *why = "mkdir " + p + ": " + std::strerror(errno);
            return false;
        }
        if (::mount("tmpfs", p.c_str(), "tmpfs", 0, "size=256m,mode=0700") != 0) {
            *why = "mount tmpfs on " + p + ": " + std::strerror(errno);
            return false;
        }
        tmpfs_mounted_ = true;
        return true;
    }

    static bool fill(const std::string &path, uint64_t size, std::string *why) {
        int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0) {
            *why = "open " + path + ": " + std::strerror(errno);
            return false;
        }
        std::vector<unsigned char> bytes(size);
        for (size_t i = 0; i < size; ++i) bytes[i] = pattern_byte(i);
        bool ok = size == 0 || ::pwrite(fd, bytes.data(), size, 0) == static_cast<ssize_t>(size);
        if (!ok) *why = "writing " + path + ": " + std::strerror(errno);
        ::close(fd);
        return ok;
    }

    bool open_file_kind(const std::string &path, int extra, io_target *out, std::string *why) {
        int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | extra);
        if (fd < 0) {
            *why = "open " + path + (extra != 0 ? " O_DIRECT" : "") + ": " + std::strerror(errno) +
                   (extra != 0 && errno == EINVAL ? " (this file system refuses O_DIRECT)" : "");
            return false;
        }
        fds_.push_back(fd);
        out->rfd = fd;
        out->wfd = fd;
        return true;
    }

    temp_dir &dir_;
    std::vector<int> fds_;
    std::vector<std::unique_ptr<test_fs>> fs_;
    bool tmpfs_mounted_ = false;
};

}  // namespace fileaio::test
