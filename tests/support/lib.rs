//! Helpers shared by the scenario tests.

pub mod desktop;
