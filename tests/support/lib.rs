//! Helpers shared by the scenario tests.

pub mod cloud;
pub mod desktop;
pub mod device;
pub mod edits;
pub mod fault_proxy;
