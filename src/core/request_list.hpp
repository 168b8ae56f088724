// Intrusive lists of requests for backends: nothing is allocated, a request is on one list at a
// time (through request::next/prev), and the caller provides the locking.
#pragma once

#include <cstddef>

#include "core/request.hpp"

namespace fileaio::detail {

// The links a list threads through: request::next/prev by default. A backend that needs a request
// on two lists at once gives the second list links of its own (in request::scratch).
struct request_links {
    static request *&next(request *r) { return r->next; }
    static request *&prev(request *r) { return r->prev; }
};

// A doubly linked FIFO: O(1) push, pop and removal from the middle (for cancel).
template <class Links = request_links>
struct basic_request_list {
    request *head = nullptr;
    request *tail = nullptr;

    bool empty() const { return head == nullptr; }
    void push_back(request *r) {
        Links::next(r) = nullptr;
        Links::prev(r) = tail;
        if (tail != nullptr) {
            Links::next(tail) = r;
        } else {
            head = r;
        }
        tail = r;
    }
    void remove(request *r) {
        if (Links::prev(r) != nullptr) {
            Links::next(Links::prev(r)) = Links::next(r);
        } else {
            head = Links::next(r);
        }
        if (Links::next(r) != nullptr) {
            Links::prev(Links::next(r)) = Links::prev(r);
        } else {
            tail = Links::prev(r);
        }
        Links::next(r) = Links::prev(r) = nullptr;
    }
    request *pop_front() {
        request *r = head;
        if (r != nullptr) remove(r);
        return r;
    }
    // Puts `by` (on no list) where `r` is, and takes r off the list.
    void replace(request *r, request *by) {
        Links::prev(by) = Links::prev(r);
        Links::next(by) = Links::next(r);
        if (Links::prev(r) != nullptr) {
            Links::next(Links::prev(r)) = by;
        } else {
            head = by;
        }
        if (Links::next(r) != nullptr) {
            Links::prev(Links::next(r)) = by;
        } else {
            tail = by;
        }
        Links::next(r) = Links::prev(r) = nullptr;
    }
    // Moves every request of `other` to the back of this list, in order.
    void splice_back(basic_request_list *other) {
        if (other->empty()) return;
        if (tail != nullptr) {
            Links::next(tail) = other->head;
            Links::prev(other->head) = tail;
        } else {
            head = other->head;
        }
        tail = other->tail;
        other->head = other->tail = nullptr;
    }
};

using request_list = basic_request_list<>;

// A singly linked FIFO (through next) with a count: how finished requests are gathered, handed
// to a completion_queue in one push, and kept there until a wait takes them.
struct request_chain {
    request *head = nullptr;
    request *tail = nullptr;
    size_t count = 0;

    bool empty() const { return head == nullptr; }
    void append(request *r) { append(r, r, 1); }
    // Appends first..last, already linked through next, `n` of them.
    void append(request *first, request *last, size_t n) {
        last->next = nullptr;
        if (tail != nullptr) {
            tail->next = first;
        } else {
            head = first;
        }
        tail = last;
        count += n;
    }
    void append(const request_chain &other) {
        if (!other.empty()) append(other.head, other.tail, other.count);
    }
    request *pop_front() {
        request *r = head;
        if (r != nullptr) {
            head = r->next;
            if (head == nullptr) tail = nullptr;
            --count;
        }
        return r;
    }
};

}  // namespace fileaio::detail
