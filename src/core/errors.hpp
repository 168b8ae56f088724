// The error table: names and sentences for the library's codes (FILEAIO_ERRNO_MAP) and -errno.
#pragma once

namespace fileaio::detail {

const char *error_sentence(int code);  // never null
const char *error_name(int code);      // never null

}  // namespace fileaio::detail
