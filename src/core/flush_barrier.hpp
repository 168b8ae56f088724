// The flush barrier of the backends that hold flushes back themselves (io_uring, linux_aio,
// posix_aio): writes in flight, and flushes waiting for earlier writes to their fd. A flush is
// held while a write to the same fd with a smaller request::seq is in `writes`; the backend
// releases it once that is no longer so. The caller provides the locking.
#pragma once

#include "core/request.hpp"
#include "core/request_list.hpp"

namespace fileaio::detail {

template <class WriteLinks = request_links>
struct flush_barrier {
    basic_request_list<WriteLinks> writes;  // writes from submit until they are done
    request_list held;                      // flushes waiting for earlier writes

    // True while a write to flush->fd submitted before it is still in flight.
    bool holds(const request *flush) const {
        for (request *w = writes.head; w != nullptr; w = WriteLinks::next(w))
            if (w->fd == flush->fd && w->seq < flush->seq) return true;
        return false;
    }

    // Takes every held flush that no earlier write holds back any more off `held`, in order, and
    // gives it to release(request *).
    template <class Release>
    void release_ready(Release &&release) {
        for (request *h = held.head; h != nullptr;) {
            request *after = h->next;
            if (!holds(h)) {
                held.remove(h);
                release(h);
            }
            h = after;
        }
    }
};

}  // namespace fileaio::detail
