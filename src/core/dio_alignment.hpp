#pragma once

#include "fileaio/fileaio.h"

namespace fileaio::detail {

// See fileaio_get_dio_alignment; fd >= 0 is checked by the caller. 0 or -errno.
int get_dio_alignment(int fd, fileaio_dio_alignment *out);

}  // namespace fileaio::detail
