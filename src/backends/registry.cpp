// The registry: the one place that knows every backend, probes them, resolves AUTO (io_uring,
// linux_aio, thread_pool; posix_aio only when named) and honours FILEAIO_BACKEND. It never
// substitutes one backend for another that was asked for by name.
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "backends/backend.hpp"
#include "backends/thread_pool.hpp"
#if FILEAIO_HAVE_IO_URING
#include "backends/io_uring.hpp"
#endif
#if FILEAIO_HAVE_LINUX_AIO
#include "backends/linux_aio.hpp"
#endif
#if FILEAIO_HAVE_POSIX_AIO
#include "backends/posix_aio.hpp"
#endif

namespace fileaio::detail {
namespace {

// A backend whose library was missing at build time says so, and how to get it.
__attribute__((unused)) int not_built_probe(const char *what, const char *package, char *reason,
                                            size_t reason_size) {
    if (reason != nullptr && reason_size != 0)
        std::snprintf(reason, reason_size, "%s backend not built (install %s and rebuild)", what, package);
    return FILEAIO_E_NOT_SUPPORTED;
}

#if !FILEAIO_HAVE_IO_URING
int io_uring_probe(char *reason, size_t reason_size) {
    return not_built_probe("io_uring", "liburing-dev", reason, reason_size);
}
constexpr auto io_uring_create = nullptr;
constexpr auto io_uring_limits = nullptr;
#endif
#if !FILEAIO_HAVE_LINUX_AIO
int linux_aio_probe(char *reason, size_t reason_size) {
    return not_built_probe("linux_aio", "libaio-dev", reason, reason_size);
}
constexpr auto linux_aio_create = nullptr;
constexpr auto linux_aio_limits = nullptr;
#endif
#if !FILEAIO_HAVE_POSIX_AIO
int posix_aio_probe(char *reason, size_t reason_size) {
    return not_built_probe("posix_aio", "glibc's aio.h", reason, reason_size);
}
constexpr auto posix_aio_create = nullptr;
constexpr auto posix_aio_limits = nullptr;
#endif

struct entry {
    fileaio_backend kind;
    const char *name;
    int (*probe)(char *reason, size_t reason_size);
    int (*create)(const backend_config &config, std::unique_ptr<backend> *out);  // null: not built
    int (*limits)(fileaio_limits *limits);
};

const entry entries[] = {
    {FILEAIO_BACKEND_IO_URING, "io_uring", io_uring_probe, io_uring_create, io_uring_limits},
    {FILEAIO_BACKEND_LINUX_AIO, "linux_aio", linux_aio_probe, linux_aio_create, linux_aio_limits},
    {FILEAIO_BACKEND_POSIX_AIO, "posix_aio", posix_aio_probe, posix_aio_create, posix_aio_limits},
    {FILEAIO_BACKEND_THREAD_POOL, "thread_pool", thread_pool_probe, thread_pool_create, thread_pool_limits},
};

// AUTO's order of preference (fixed by the contract). linux_aio stays ahead of thread_pool: it
// serves what kernel AIO would run synchronously (buffered files, pipes, FUSE) with thread_pool's
// own technique, and O_DIRECT through the kernel (docs/backends.md, "AUTO when io_uring is
// unavailable").
const fileaio_backend auto_order[] = {FILEAIO_BACKEND_IO_URING, FILEAIO_BACKEND_LINUX_AIO,
                                      FILEAIO_BACKEND_THREAD_POOL};

const entry *find(fileaio_backend kind) {
    for (const entry &e : entries)
        if (e.kind == kind) return &e;
    return nullptr;
}

__attribute__((format(printf, 3, 4))) void say(char *reason, size_t reason_size, const char *fmt, ...) {
    if (reason == nullptr || reason_size == 0) return;
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(reason, reason_size, fmt, ap);
    va_end(ap);
}

// FILEAIO_BACKEND: unset or empty → AUTO order; a known name → that one only; else an error.
int env_override(const entry **pinned, const char **value) {
    *pinned = nullptr;
    const char *env = std::getenv("FILEAIO_BACKEND");
    *value = env;
    if (env == nullptr || *env == '\0' || std::strcmp(env, "auto") == 0) return 0;
    for (const entry &e : entries) {
        if (std::strcmp(env, e.name) == 0) {
            *pinned = &e;
            return 0;
        }
    }
    return FILEAIO_E_NOT_SUPPORTED;
}

// A backend's own probe: 0, E_NOT_SUPPORTED (not here), or E_INSUFFICIENT_RESOURCES (here, but out
// of room for now: contexts cannot be created until something is freed). The public probe calls
// both "unavailable"; a backend asked for by name is still tried when it is only out of room, so
// that its creation fails with E_INSUFFICIENT_RESOURCES, as the contract says.
int probe_one(const entry &e, char *reason, size_t reason_size) {
    char own[256];
    return e.probe(reason != nullptr && reason_size != 0 ? reason : own,
                   reason != nullptr && reason_size != 0 ? reason_size : sizeof own);
}

bool exists_here(int probe_rc) { return probe_rc == 0 || probe_rc == FILEAIO_E_INSUFFICIENT_RESOURCES; }

// Resolves AUTO to a backend that probes available. Reason explains the choice or the failure.
int resolve_auto(const entry **out, char *reason, size_t reason_size) {
    const entry *pinned = nullptr;
    const char *env = nullptr;
    if (env_override(&pinned, &env) != 0) {
        say(reason, reason_size, "FILEAIO_BACKEND=%s is not a backend name (io_uring, linux_aio, posix_aio, thread_pool)",
            env);
        return FILEAIO_E_NOT_SUPPORTED;
    }
    char why[256];
    if (pinned != nullptr) {
        if (probe_one(*pinned, why, sizeof why) != 0) {
            say(reason, reason_size, "FILEAIO_BACKEND=%s, which is unavailable: %s", pinned->name, why);
            return FILEAIO_E_NOT_SUPPORTED;
        }
        *out = pinned;
        say(reason, reason_size, "%s (pinned by FILEAIO_BACKEND=%s)", pinned->name, pinned->name);
        return 0;
    }
    for (fileaio_backend kind : auto_order) {
        const entry *e = find(kind);
        if (probe_one(*e, why, sizeof why) == 0) {
            *out = e;
            say(reason, reason_size, "%s (the first available of io_uring, linux_aio, thread_pool)", e->name);
            return 0;
        }
    }
    say(reason, reason_size, "no backend is available");
    return FILEAIO_E_NOT_SUPPORTED;
}

}  // namespace

const char *backend_name(fileaio_backend kind) {
    if (kind == FILEAIO_BACKEND_AUTO) return "auto";
    const entry *e = find(kind);
    return e != nullptr ? e->name : "unknown";
}

int probe_backend(fileaio_backend kind, char *reason, size_t reason_size) {
    if (kind == FILEAIO_BACKEND_AUTO) {
        const entry *e = nullptr;
        return resolve_auto(&e, reason, reason_size);
    }
    const entry *e = find(kind);
    if (e == nullptr) {
        if (reason != nullptr && reason_size != 0) std::snprintf(reason, reason_size, "unknown backend %d", kind);
        return FILEAIO_E_INVALID_PARAMETER;
    }
    const int rc = probe_one(*e, reason, reason_size);
    return rc == FILEAIO_E_INSUFFICIENT_RESOURCES ? FILEAIO_E_NOT_SUPPORTED : rc;
}

int backend_limits(fileaio_backend kind, fileaio_limits *limits) {
    const entry *e = nullptr;
    if (kind == FILEAIO_BACKEND_AUTO) {
        if (int rc = resolve_auto(&e, nullptr, 0); rc != 0) return rc;
    } else {
        e = find(kind);
        if (e == nullptr) return FILEAIO_E_INVALID_PARAMETER;
        if (!exists_here(probe_one(*e, nullptr, 0))) return FILEAIO_E_NOT_SUPPORTED;
    }
    if (e->limits == nullptr) return FILEAIO_E_NOT_SUPPORTED;
    return e->limits(limits);
}

int create_backend(fileaio_backend kind, const backend_config &config, std::unique_ptr<backend> *out,
                   fileaio_backend *chosen) {
    if (kind != FILEAIO_BACKEND_AUTO) {
        const entry *e = find(kind);
        if (e == nullptr) return FILEAIO_E_INVALID_PARAMETER;
        if (!exists_here(probe_one(*e, nullptr, 0)) || e->create == nullptr) return FILEAIO_E_NOT_SUPPORTED;
        *chosen = kind;
        return e->create(config, out);
    }
    const entry *pinned = nullptr;
    const char *env = nullptr;
    if (env_override(&pinned, &env) != 0) return FILEAIO_E_NOT_SUPPORTED;
    if (pinned != nullptr) return create_backend(pinned->kind, config, out, chosen);
    // AUTO also moves on when creating a context fails for a reason of that backend.
    int last = FILEAIO_E_NOT_SUPPORTED;
    for (fileaio_backend k : auto_order) {
        const entry *e = find(k);
        if (e->create == nullptr || probe_one(*e, nullptr, 0) != 0) continue;
        last = e->create(config, out);
        if (last == 0) {
            *chosen = k;
            return 0;
        }
        if (last != FILEAIO_E_INSUFFICIENT_RESOURCES && last != FILEAIO_E_NOT_SUPPORTED) return last;
    }
    return last;
}

}  // namespace fileaio::detail
