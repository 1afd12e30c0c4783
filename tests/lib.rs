//! End-to-end tests of Ferry live in this package's `tests`; the library is empty.
