//! Two-factor sign-in for axum apps (work in progress).

pub mod limits;
mod state;
pub mod storage;

pub use state::{Factor, FactorMethod};
