#include "info.hpp"

#include "options.hpp"
#include "util.hpp"

#include <fileaio/fileaio.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <optional>
#include <linux/fs.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace fileaio::cli {
namespace {

constexpr std::size_t reason_size = 256;
constexpr int name_width = 26;          // the label column
constexpr mode_t temp_file_mode = 0600;
constexpr const char *backend_env = "FILEAIO_BACKEND";
constexpr const char *aio_nr_path = "/proc/sys/fs/aio-nr";
constexpr const char *aio_max_nr_path = "/proc/sys/fs/aio-max-nr";
constexpr const char *io_uring_disabled_path = "/proc/sys/kernel/io_uring_disabled";
constexpr const char *temp_name_pattern = "/.fileaio-info-XXXXXX";

struct fs_magic {
    std::uint32_t magic;
    const char *name;
};

// statfs(2) f_type values (linux/magic.h and friends) of filesystems people run I/O on.
constexpr fs_magic fs_magics[] = {
    {0xEF53, "ext4/ext3/ext2"}, {0x58465342, "xfs"},        {0x9123683E, "btrfs"},     {0x01021994, "tmpfs"},
    {0x858458F6, "ramfs"},      {0x794C7630, "overlayfs"},  {0x65735546, "fuse"},      {0x6969, "nfs"},
    {0x2FC12FC1, "zfs"},        {0xF2F52010, "f2fs"},       {0xCA451A4E, "bcachefs"},  {0xE0F5E1E2, "erofs"},
    {0x73717368, "squashfs"},   {0xFE534D42, "smb2"},       {0xFF534D42, "cifs"},      {0x517B, "smb"},
    {0x01021997, "9p"},         {0x00C36400, "ceph"},       {0x0BD00BD0, "lustre"},    {0x47504653, "gpfs"},
    {0x01161970, "gfs2"},       {0x7461636F, "ocfs2"},      {0x4D44, "vfat/msdos"},    {0x2011BAB0, "exfat"},
    {0x5346544E, "ntfs"},       {0x7366746E, "ntfs3"},      {0x3153464A, "jfs"},       {0x52654973, "reiserfs"},
    {0x9660, "iso9660"},        {0x958458F6, "hugetlbfs"},  {0x62646576, "bdev"},      {0x9FA0, "proc"},
    {0x62656572, "sysfs"},      {0x1CD1, "devpts"},         {0x63677270, "cgroup2"},
};

const char *fs_name(std::uint32_t magic)
{
    for (const auto &entry : fs_magics) {
        if (entry.magic == magic) {
            return entry.name;
        }
    }
    return "unknown";
}

void print_row(const std::string &label, const std::string &value)
{
    std::printf("  %-*s %s\n", name_width, label.c_str(), value.c_str());
}

// "80.3 GiB": rounded, for free space.
std::string approx_bytes(std::uint64_t bytes)
{
    constexpr std::size_t text_size = 32;
    char text[text_size];
    std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / static_cast<double>(gib));
    return text;
}

// The first line of a /proc file, or a note on why there is none.
std::string read_proc_value(const char *path)
{
    std::ifstream in(path);
    if (!in) {
        const int err = errno;
        return err == ENOENT ? std::string("missing (") + path + " does not exist on this kernel)"
                             : std::string("unreadable (") + describe_errno(err) + ")";
    }
    std::string line;
    std::getline(in, line);
    return line;
}

std::string limit_text(rlim_t value)
{
    return value == RLIM_INFINITY ? std::string("unlimited") : format_bytes(static_cast<std::uint64_t>(value));
}

void print_system()
{
    utsname uts{};
    if (uname(&uts) == 0) {
        std::printf("kernel: %s %s %s\n", uts.sysname, uts.release, uts.machine);
    }
    std::printf("cpus: %ld online\n", sysconf(_SC_NPROCESSORS_ONLN));
}

void print_backends()
{
    char reason[reason_size];
    std::printf("\nbackends:\n");
    for (const auto backend : all_backends) {
        reason[0] = '\0';
        const bool available = fileaio_backend_probe(backend, reason, sizeof reason) == 0;
        std::printf("  %-12s %-12s %s\n", fileaio_backend_name(backend), available ? "available" : "unavailable",
                    reason);
    }

    reason[0] = '\0';
    const int auto_rc = fileaio_backend_probe(FILEAIO_BACKEND_AUTO, reason, sizeof reason);
    std::string picks;
    if (auto_rc == 0) {
        // The definitive answer: what a context created with AUTO really runs.
        fileaio_ctx *ctx = nullptr;
        if (const int rc = fileaio_ctx_create(&ctx, 1, 0); rc == 0) {
            picks = fileaio_backend_name(fileaio_ctx_get_backend(ctx));
            fileaio_ctx_destroy(ctx);
        } else {
            picks = std::string("none (fileaio_ctx_create: ") + describe_code(rc) + ")";
        }
    } else {
        picks = "none";
    }
    std::printf(reason[0] != '\0' ? "auto picks: %s (probe: %s)\n" : "auto picks: %s%s\n", picks.c_str(), reason);

    const char *env = std::getenv(backend_env);
    if (env == nullptr) {
        std::printf("%s: not set\n", backend_env);
    } else if (!backend_from_name(env)) {
        std::printf("%s=%s: not a backend name (io_uring, linux_aio, posix_aio, thread_pool)\n", backend_env, env);
    } else {
        std::printf("%s=%s: overrides what auto picks\n", backend_env, env);
    }
}

void print_limits()
{
    std::printf("\nlimits of the available backends:\n");
    char reason[reason_size];
    for (const auto backend : all_backends) {
        fileaio_limits lim{};
        if (fileaio_backend_probe(backend, reason, sizeof reason) != 0 || fileaio_get_limits(backend, &lim) != 0) {
            continue;
        }
        const std::string outstanding =
            lim.max_outstanding == FILEAIO_UNLIMITED_REQS ? "unlimited" : std::to_string(lim.max_outstanding);
        const std::string alignment =
            lim.buffer_alignment == 0 ? "none" : std::to_string(lim.buffer_alignment) + " bytes";
        std::printf("  %-12s max in flight: %-10s buffer alignment (buffered I/O): %s\n",
                    fileaio_backend_name(backend), outstanding.c_str(), alignment.c_str());
    }

    std::printf("\nsystem limits:\n");
    print_row("fs.aio-nr", read_proc_value(aio_nr_path));
    print_row("fs.aio-max-nr", read_proc_value(aio_max_nr_path));
    std::string disabled = read_proc_value(io_uring_disabled_path);
    if (disabled == "0") {
        disabled += " (io_uring enabled for everyone)";
    } else if (disabled == "1") {
        disabled += " (io_uring only for root and kernel.io_uring_group)";
    } else if (disabled == "2") {
        disabled += " (io_uring disabled)";
    }
    print_row("kernel.io_uring_disabled", disabled);
    rlimit memlock{};
    if (getrlimit(RLIMIT_MEMLOCK, &memlock) == 0) {
        print_row("RLIMIT_MEMLOCK", "soft " + limit_text(memlock.rlim_cur) + ", hard " + limit_text(memlock.rlim_max));
    } else {
        print_row("RLIMIT_MEMLOCK", "unknown (" + describe_errno(errno) + ")");
    }
}

// Opens a file to examine O_DIRECT on: PATH itself, or for a directory an unnamed temporary
// file in it (O_TMPFILE, else mkstemp + unlink), else the directory itself. `what` says which.
unique_fd open_probe_file(const std::string &path, bool directory, std::string &what)
{
    if (!directory) {
        what = path;
        return unique_fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    }
    unique_fd fd(::open(path.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, temp_file_mode));
    if (fd.valid()) {
        what = "a temporary file in " + path;
        return fd;
    }
    std::string name = path + temp_name_pattern;
    fd.reset(::mkostemp(name.data(), O_CLOEXEC));
    if (fd.valid()) {
        ::unlink(name.c_str());
        what = "a temporary file in " + path;
        return fd;
    }
    what = path + " itself (no temporary file could be created in it: " + describe_errno(errno) + ")";
    return unique_fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

// Whether the file behind fd accepts O_DIRECT: F_SETFL refuses it with EINVAL where the
// filesystem cannot do direct I/O.
std::string direct_io_support(int fd, bool directory_itself)
{
    if (directory_itself) {
        return "unknown (directories cannot be opened with O_DIRECT)";
    }
    const int flags = fcntl(fd, F_GETFL);
    if (flags < 0) {
        return "unknown (" + describe_errno(errno) + ")";
    }
    if (fcntl(fd, F_SETFL, flags | O_DIRECT) != 0) {
        return "not supported (" + describe_errno(errno) + ")";
    }
    return "supported";
}

// A small number from a sysfs file; nullopt when it cannot be read.
std::optional<std::uint64_t> read_sysfs_number(const std::string &path)
{
    std::ifstream in(path);
    std::uint64_t value = 0;
    if (!(in >> value)) {
        return std::nullopt;
    }
    return value;
}

// The logical (and physical) block size of the device behind PATH: BLKSSZGET/BLKPBSZGET on a
// block device, else the sysfs queue/ of the device that holds the file (of the whole disk, for a
// partition). A filesystem without a block device (tmpfs, overlayfs, NFS, ...) has none.
std::string block_size_text(const struct stat &st, int fd)
{
    if (S_ISBLK(st.st_mode) && fd >= 0) {
        int logical = 0;
        unsigned int physical = 0;
        if (::ioctl(fd, BLKSSZGET, &logical) != 0) {
            return "unknown (BLKSSZGET: " + describe_errno(errno) + ")";
        }
        std::string text = std::to_string(logical) + " bytes (BLKSSZGET)";
        if (::ioctl(fd, BLKPBSZGET, &physical) == 0) {
            text += ", physical " + std::to_string(physical) + " bytes";
        }
        return text;
    }
    const dev_t dev = S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev;
    const unsigned dev_major = major(dev);
    const unsigned dev_minor = minor(dev);
    const std::string device = "/sys/dev/block/" + std::to_string(dev_major) + ":" + std::to_string(dev_minor);
    if (dev_major == 0) {
        return "none (the filesystem has no block device of its own: device " + std::to_string(dev_major) + ":" +
               std::to_string(dev_minor) + ")";
    }
    for (const char *queue : {"/queue/", "/../queue/"}) {  // a partition's queue is its disk's
        const auto logical = read_sysfs_number(device + queue + "logical_block_size");
        if (!logical) {
            continue;
        }
        std::string text = std::to_string(*logical) + " bytes (" + device + queue + "logical_block_size)";
        if (const auto physical = read_sysfs_number(device + queue + "physical_block_size")) {
            text += ", physical " + std::to_string(*physical) + " bytes";
        }
        return text;
    }
    return "unknown (no " + device + "/queue in sysfs)";
}

int print_path(const std::string &path)
{
    std::printf("\npath: %s\n", path.c_str());
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        std::fprintf(stderr, "fileaio: %s: %s\n", path.c_str(), describe_errno(errno).c_str());
        return 1;
    }
    const bool directory = S_ISDIR(st.st_mode);
    const char *kind = "other";
    if (directory) {
        kind = "directory";
    } else if (S_ISREG(st.st_mode)) {
        kind = "regular file";
    } else if (S_ISBLK(st.st_mode)) {
        kind = "block device";
    }
    print_row("kind", kind);

    struct statfs fs {};
    if (S_ISBLK(st.st_mode)) {
        print_row("filesystem", "none (a block device)");
    } else if (::statfs(path.c_str(), &fs) == 0) {
        const auto magic = static_cast<std::uint32_t>(fs.f_type);
        constexpr std::size_t text_size = 64;
        char text[text_size];
        std::snprintf(text, sizeof text, "%s (0x%x)", fs_name(magic), magic);
        print_row("filesystem", text);
        const auto block = static_cast<std::uint64_t>(fs.f_bsize);
        print_row("space", approx_bytes(static_cast<std::uint64_t>(fs.f_bavail) * block) + " free of " +
                               approx_bytes(static_cast<std::uint64_t>(fs.f_blocks) * block));
    } else {
        print_row("filesystem", "unknown (statfs: " + describe_errno(errno) + ")");
    }

    std::string what;
    const unique_fd fd = open_probe_file(path, directory, what);
    if (!fd.valid()) {
        const int err = errno;
        print_row("logical block size", block_size_text(st, -1));
        print_row("O_DIRECT", "unknown (cannot open " + path + ": " + describe_errno(err) + ")");
        return 1;
    }
    if (S_ISBLK(st.st_mode)) {
        std::uint64_t device_bytes = 0;
        if (::ioctl(fd.get(), BLKGETSIZE64, &device_bytes) == 0) {
            print_row("size", format_bytes(device_bytes));
        }
    } else if (S_ISREG(st.st_mode)) {
        print_row("size", std::to_string(st.st_size) + " bytes");
    }
    print_row("logical block size", block_size_text(st, fd.get()));
    const bool directory_itself = directory && what.starts_with(path + " itself");
    print_row("O_DIRECT", direct_io_support(fd.get(), directory_itself) + ", examined on " + what);
    fileaio_dio_alignment dio{};
    if (const int rc = fileaio_get_dio_alignment(fd.get(), &dio); rc == 0) {
        print_row("O_DIRECT memory alignment", std::to_string(dio.mem_align) + " bytes");
        print_row("O_DIRECT offset alignment", std::to_string(dio.offset_align) + " bytes (offsets and lengths)");
    } else {
        print_row("O_DIRECT alignment", "unknown (fileaio_get_dio_alignment: " + describe_code(rc) + ")");
    }
    return 0;
}

}  // namespace

int run_info(std::optional<std::string_view> path)
{
    // The version of the library that runs, and of the header this tool was built with.
    std::printf("fileaio %s (built with fileaio.h %s)\n", fileaio_version(), FILEAIO_VERSION_STRING);
    print_system();
    print_backends();
    print_limits();
    int status = 0;
    if (path) {
        status = print_path(std::string(*path));
    }
    std::fflush(stdout);
    return status;
}

}  // namespace fileaio::cli
