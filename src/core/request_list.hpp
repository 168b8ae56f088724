// Intrusive lists of requests for backends: nothing is allocated, a request is on one list at a
// time (through request::next/prev), and the caller provides the locking.
#pragma once

#include <cstddef>

#include "core/request.hpp"

namespace fileaio::detail {

// A doubly linked FIFO: O(1) push, pop and removal from the middle (for cancel).
struct request_list {
    request *head = nullptr;
    request *tail = nullptr;

    bool empty() const { return head == nullptr; }
    void push_back(request *r) {
        r->next = nullptr;
        r->prev = tail;
        if (tail != nullptr) {
            tail->next = r;
        } else {
            head = r;
        }
        tail = r;
    }
    void remove(request *r) {
        if (r->prev != nullptr) {
            r->prev->next = r->next;
        } else {
            head = r->next;
        }
        if (r->next != nullptr) {
            r->next->prev = r->prev;
        } else {
            tail = r->prev;
        }
        r->next = r->prev = nullptr;
    }
    request *pop_front() {
        request *r = head;
        if (r != nullptr) remove(r);
        return r;
    }
};

// A singly linked chain (through next) with a count: how finished requests are gathered and
// handed to a completion_queue in one push.
struct request_chain {
    request *head = nullptr;
    request *tail = nullptr;
    size_t count = 0;

    void append(request *r) {
        r->next = nullptr;
        if (tail != nullptr) {
            tail->next = r;
        } else {
            head = r;
        }
        tail = r;
        ++count;
    }
};

}  // namespace fileaio::detail
