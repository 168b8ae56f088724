// fileaio_get_dio_alignment: statx(STATX_DIOALIGN), then the device's logical block size, then 4096.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "core/dio_alignment.hpp"

namespace fileaio::detail {
namespace {

constexpr uint32_t fallback_alignment = 4096;

uint32_t read_sysfs_u32(const char *path) {
    FILE *f = std::fopen(path, "re");
    if (f == nullptr) return 0;
    unsigned long v = 0;
    if (std::fscanf(f, "%lu", &v) != 1) v = 0;
    std::fclose(f);
    return static_cast<uint32_t>(v);
}

// The logical block size of the device behind st (the device itself for a block device).
uint32_t logical_block_size(int fd, const struct stat &st) {
    if (S_ISBLK(st.st_mode)) {
        int size = 0;
        if (ioctl(fd, BLKSSZGET, &size) == 0 && size > 0) return static_cast<uint32_t>(size);
        return 0;
    }
    char path[128];
    // A whole disk has queue/; a partition's queue/ is its parent's.
    std::snprintf(path, sizeof path, "/sys/dev/block/%u:%u/queue/logical_block_size", major(st.st_dev),
                  minor(st.st_dev));
    if (uint32_t v = read_sysfs_u32(path); v != 0) return v;
    std::snprintf(path, sizeof path, "/sys/dev/block/%u:%u/../queue/logical_block_size", major(st.st_dev),
                  minor(st.st_dev));
    return read_sysfs_u32(path);
}

}  // namespace

int get_dio_alignment(int fd, fileaio_dio_alignment *out) {
    struct statx sx {};
    if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN | STATX_TYPE, &sx) != 0) {
        if (errno == EBADF) return -EBADF;
        // Older kernels/filesystems without statx: fall through to fstat.
    } else if ((sx.stx_mask & STATX_DIOALIGN) != 0 && sx.stx_dio_mem_align != 0 && sx.stx_dio_offset_align != 0) {
        out->mem_align = sx.stx_dio_mem_align;
        out->offset_align = sx.stx_dio_offset_align;
        return 0;
    }
    struct stat st {};
    if (fstat(fd, &st) != 0) return -errno;
    uint32_t lbs = logical_block_size(fd, st);
    if (lbs == 0) lbs = fallback_alignment;
    out->mem_align = lbs;
    out->offset_align = lbs;
    return 0;
}

}  // namespace fileaio::detail
