// The input format of api_fuzzer: a byte string read as a small program of C API calls.
//
//   header:  backend, max_reqs, flags            (3 bytes)
//   then:    opcode, operands...                 (repeated; missing bytes read as 0)
//
// The header creates context slot 0 on one of the backends whose probe says yes (so every
// available backend gets fuzzed) and request slots 0..3. Each opcode byte (modulo op_count) is
// followed by a fixed number of operand bytes (operand_count). Operands are selectors: a
// context selector picks a slot, NULL or a "dead" handle (a zeroed block that is not a live
// object); a request selector likewise; an fd selector one of the files of fd_class. A fault
// operand picks at most one invalid argument, so that every call has one expected code.
//
// Shared by the harness (api_fuzzer.cpp) and the seed generator (make_seeds.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace fileaio::fuzz {

inline constexpr size_t ctx_slots = 4;
inline constexpr size_t req_slots = 16;
inline constexpr size_t data_file_size = 64 * 1024;  // the file whose bytes are checked
inline constexpr size_t buffer_size = 16 * 1024;     // each request slot's buffer
inline constexpr size_t max_batch = 8;               // elements of one submit
inline constexpr size_t max_iov = 16;                // iovec elements of an ordinary vectored request
inline constexpr size_t wait_array = 64;             // the completed[] array of every wait
inline constexpr size_t header_size = 3;

enum class opcode : uint8_t {
    ctx_create,          // slot, max_reqs, flags, backend, fault (create_fault; high nibble: api variant)
    ctx_destroy,         // ctx
    req_create,          // slot, variant (7: NULL output)
    req_destroy,         // req
    prepare_read,        // req, fd, off_lo, off_hi, size_lo, size_hi, fault (io_fault), user
    prepare_write,       // same
    prepare_readv,       // req, fd, off_lo, off_hi, count, lengths seed, fault (vec_fault), user
    prepare_writev,      // same
    prepare_flush,       // req, fd, fault (1: fd < 0), user
    prepare_datasync,    // same
    submit,              // ctx, count, variant (submit_variant), max_batch element selectors
    wait,                // ctx, min_reqs, capacity, timeout, variant (wait_variant)
    wakeup,              // ctx
    wakeup_later,        // ctx slot, delay ms: another thread calls wakeup
    cancel,              // req
    get_stats,           // ctx, variant (1: NULL output)
    get_result,          // req, variant (1: transferred NULL)
    register_buffers,    // ctx, variant (buffers_variant), a, b
    unregister_buffers,  // ctx
    associate,           // ctx, fd
    check_data,          // (none): with no write to the data file in flight, the file matches the model
    misc,                // what, x: probe, limits, dio alignment, error names, NULL-handle getters,
                         // out-of-range backend values
    concurrent,          // ctx slot, min_reqs, timeout, submit, cancel a, cancel b, wake: see below
    count
};

inline constexpr uint8_t operand_count[] = {
    5,              // ctx_create
    1,              // ctx_destroy
    2,              // req_create
    1,              // req_destroy
    8, 8,           // prepare_read, prepare_write
    8, 8,           // prepare_readv, prepare_writev
    4, 4,           // prepare_flush, prepare_datasync
    3 + max_batch,  // submit
    5,              // wait
    1,              // wakeup
    2,              // wakeup_later
    1,              // cancel
    2,              // get_stats
    2,              // get_result
    4,              // register_buffers
    1,              // unregister_buffers
    2,              // associate
    0,              // check_data
    2,              // misc
    7,              // concurrent
};
static_assert(sizeof operand_count == static_cast<size_t>(opcode::count));

// Selectors. A context selector is taken modulo ctx_selectors, a request selector modulo
// req_selectors, an fd selector modulo fd_classes.
inline constexpr uint8_t ctx_null = ctx_slots;      // 4
inline constexpr uint8_t ctx_dead = ctx_slots + 1;  // 5
inline constexpr uint8_t ctx_selectors = ctx_slots + 2;
inline constexpr uint8_t req_null = req_slots;      // 16
inline constexpr uint8_t req_dead = req_slots + 1;  // 17
inline constexpr uint8_t req_selectors = req_slots + 2;

enum fd_class : uint8_t {
    fd_data,      // the data file, read-write: every byte read is checked against the model
    fd_data_ro,   // the same file read-only: writes fail with EBADF
    fd_scratch,   // a file where anything goes (offsets up to INT64_MAX), not checked
    fd_closed,    // a number that is not an open fd: EBADF
    fd_dir,       // the temporary directory: EISDIR for reads, EBADF for writes
    fd_negative,  // -1: E_INVALID_PARAMETER where an fd is checked (associate)
    fd_classes
};

// ctx_create's fault operand, low nibble (values 0..7 are valid calls).
enum create_fault : uint8_t {
    create_ok_first = 0,
    create_max_zero = 8,        // max_reqs 0: E_INVALID_PARAMETER
    create_max_unlimited = 9,   // FILEAIO_UNLIMITED_REQS: E_OUT_OF_RANGE
    create_bad_flags = 10,      // an unknown flag bit: E_INVALID_PARAMETER
    create_bad_backend = 11,    // an out-of-range backend value: E_INVALID_PARAMETER
    create_unavailable = 12,    // a backend whose probe says no: E_NOT_SUPPORTED
    create_null_out = 13,       // ctx == NULL: E_INVALID_PARAMETER
    create_bad_options = 14,    // options: size too small / unknown tail / threads / uring flags
    create_big_max = 15,        // max_reqs 4096, valid
};
// ctx_create's api variant, high nibble modulo 3.
enum create_api : uint8_t { api_create, api_create_ex, api_create_opts };

// prepare_read/prepare_write fault operand, modulo io_faults (0..5: valid).
enum io_fault : uint8_t {
    io_ok_last = 5,
    io_negative_offset = 6,
    io_null_buffer = 7,
    io_zero_size = 8,
    io_huge_size = 9,      // size > SSIZE_MAX
    io_range_overflow = 10,  // offset + size overflows int64_t
    io_negative_fd = 11,
    io_faults
};

// prepare_readv/prepare_writev fault operand, modulo vec_faults (0..4: valid).
enum vec_fault : uint8_t {
    vec_ok_last = 4,
    vec_iov_max = 5,        // valid: IOV_MAX elements of one byte
    vec_null_iov = 6,
    vec_zero_count = 7,
    vec_negative_count = 8,
    vec_too_many = 9,       // IOV_MAX + 1 elements
    vec_null_base = 10,     // a NULL base with a non-zero length
    vec_zero_total = 11,    // every element empty
    vec_total_overflow = 12,
    vec_negative_offset = 13,
    vec_negative_fd = 14,
    vec_range_overflow = 15,
    vec_faults
};

// submit's variant operand, modulo 8.
enum submit_variant : uint8_t {
    submit_explicit_last = 3,  // 0..3: the element selectors as given
    submit_prepared = 4,       // 4..5: the first `count` PREPARED requests from slot elements[0] on
    submit_null_out = 6,       // explicit elements, submitted == NULL
    submit_null_reqs = 7,      // reqs == NULL: E_INVALID_PARAMETER
};

// wait's timeout operand, modulo 6: 0, 1, 2, 5, 20 ms, or FILEAIO_WAIT_FOREVER when something
// will surely end the wait (else 20 ms).
inline constexpr uint8_t wait_forever = 5;
// wait's variant operand, modulo 8 (0..4: valid).
enum wait_variant : uint8_t {
    wait_ok_last = 4,
    wait_null_completed = 5,
    wait_null_count = 6,
    wait_zero_capacity = 7,
};

// concurrent: a second thread waits on the context (min_reqs 1 + min % 4, timeout 20 ms, or 5 ms
// if timeout is odd) while this one submits the first ((submit & 7) % 5) PREPARED requests from slot
// (submit >> 3) on, cancels the requests that selectors a and b name, and wakes the context up
// if (wake & 1). Then the completions the waiter got are checked: none also cancelled, none twice.

// register_buffers' variant operand, modulo 8 (0..3: valid).
enum buffers_variant : uint8_t {
    buffers_whole_pool = 0,
    buffers_each_slot = 1,
    buffers_part_of_slot = 2,
    buffers_two_regions = 3,
    buffers_null_iov = 4,
    buffers_zero_count = 5,  // b odd: IOV_MAX + 1 elements
    buffers_null_base = 6,
    buffers_zero_length = 7,
};

}  // namespace fileaio::fuzz
