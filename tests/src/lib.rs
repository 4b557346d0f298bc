//! End-to-end tests for Latchkey live in `tests/tests/`.

pub mod netns;
