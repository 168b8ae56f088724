// Test support: runs f at the end of the scope. Declared after a context, it runs before the
// context's destructor: a test that fails with a FUSE gate closed then does not hang there.
#pragma once

namespace fileaio::test {

template <class F>
struct at_exit {
    F f;
    ~at_exit() { f(); }
};
template <class F>
at_exit(F) -> at_exit<F>;

}  // namespace fileaio::test
