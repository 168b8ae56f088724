/* See invalid_enum_shim.h: out-of-range fileaio_backend values, made where they are legal. */
#include "invalid_enum_shim.h"

#include <string.h>

int capi_shim_ctx_create_ex(fileaio_ctx **ctx, uint32_t max_reqs, uint32_t flags, int backend_value)
{
    return fileaio_ctx_create_ex(ctx, max_reqs, flags, (fileaio_backend)backend_value);
}

int capi_shim_ctx_create_opts(fileaio_ctx **ctx, uint32_t max_reqs, int backend_value)
{
    fileaio_ctx_options opts;
    memset(&opts, 0, sizeof opts);
    opts.size = sizeof opts;
    opts.max_reqs = max_reqs;
    opts.backend = (fileaio_backend)backend_value;
    return fileaio_ctx_create_opts(ctx, &opts);
}

int capi_shim_get_limits(int backend_value, fileaio_limits *limits)
{
    return fileaio_get_limits((fileaio_backend)backend_value, limits);
}

int capi_shim_backend_probe(int backend_value, char *reason, size_t reason_size)
{
    return fileaio_backend_probe((fileaio_backend)backend_value, reason, reason_size);
}

const char *capi_shim_backend_name(int backend_value)
{
    return fileaio_backend_name((fileaio_backend)backend_value);
}
