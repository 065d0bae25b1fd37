//! # agentry-core
//!
//! The vocabulary of agentry and the rules that need no I/O: the node-type registry that the
//! validator, the API, the DSL compiler and the UI all read; graph validation; slugs and ids;
//! user-name rules; pagination; timestamps; partial-update (`Patch`) values; workflow
//! discovery's capability extraction, score, tiers and gaps ([`discovery`]).
//!
//! Nothing here touches a database, a socket or a clock it was not handed, so every rule is
//! unit- and property-tested on its own.

pub mod discovery;
pub mod flow;
pub mod graph;
pub mod ids;
pub mod node_types;
pub mod operators;
pub mod page;
pub mod patch;
pub mod pricing;
pub mod registry;
pub mod run;
pub mod schedule;
pub mod time;
pub mod users;

pub use patch::Patch;
