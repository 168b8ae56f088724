#ifndef FILEAIO_TESTS_CAPI_INVALID_ENUM_SHIM_H
#define FILEAIO_TESTS_CAPI_INVALID_ENUM_SHIM_H

/*
 * Calls that pass an out-of-range fileaio_backend, made from C. In C an enum is just its
 * compatible integer type, so (fileaio_backend)99 is a value a C caller may legally pass; in
 * C++ the same static_cast is undefined (99 lies outside the enumeration's range), so the C++
 * test must not make such values itself. Each shim converts its int argument in C and calls
 * the library, which must answer without undefined behaviour (UBSan's -fsanitize=enum
 * checks that under the asan preset).
 */
#include <fileaio/fileaio.h>

#ifdef __cplusplus
extern "C" {
#endif

int capi_shim_ctx_create_ex(fileaio_ctx **ctx, uint32_t max_reqs, uint32_t flags, int backend_value);
int capi_shim_ctx_create_opts(fileaio_ctx **ctx, uint32_t max_reqs, int backend_value);
int capi_shim_get_limits(int backend_value, fileaio_limits *limits);
int capi_shim_backend_probe(int backend_value, char *reason, size_t reason_size);
const char *capi_shim_backend_name(int backend_value);

#ifdef __cplusplus
}
#endif

#endif
