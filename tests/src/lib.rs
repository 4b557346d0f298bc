//! End-to-end tests for Latchkey live in `tests/tests/`.

pub mod capture;
pub mod hostapd_wired;
pub mod netns;
