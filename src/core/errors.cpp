#include "core/errors.hpp"

#include <cstring>

#include "fileaio/fileaio.h"

namespace fileaio::detail {
namespace {

constexpr int max_errno = 4095;

bool is_errno(int code) { return code < 0 && code >= -max_errno; }

}  // namespace

const char *error_sentence(int code) {
    switch (code) {
        case 0: return "success";
#define FILEAIO_SENTENCE_(name, value, text) \
    case value: return text;
        FILEAIO_ERRNO_MAP(FILEAIO_SENTENCE_)
#undef FILEAIO_SENTENCE_
        default: break;
    }
    if (is_errno(code)) {
        const char *text = strerrordesc_np(-code);  // a constant string, unlike strerror
        if (text != nullptr) return text;
    }
    return "unknown error";
}

const char *error_name(int code) {
    switch (code) {
        case 0: return "OK";
#define FILEAIO_NAME_(name, value, text) \
    case value: return "FILEAIO_E_" #name;
        FILEAIO_ERRNO_MAP(FILEAIO_NAME_)
#undef FILEAIO_NAME_
        default: break;
    }
    if (is_errno(code)) {
        const char *name = strerrorname_np(-code);
        if (name != nullptr) return name;
    }
    return "UNKNOWN";
}

}  // namespace fileaio::detail
