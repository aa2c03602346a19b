//! The stack over time: capacity planning (`plan`) and moving data in (`migrate`).

pub mod migrate;
pub mod plan;
pub mod reshard;
