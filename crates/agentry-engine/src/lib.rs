//! # agentry-engine
//!
//! Workers that run executions. Every unit of work is a job row in the database; a worker
//! claims one with a lease, loads what it needs, runs the node (one module per node type under
//! [`nodes`]), and commits the node's result, the next jobs and the events in one transaction.
//! A worker that dies loses only its lease. Waiting (children, a person, a timer) costs rows,
//! never a task or thread.

pub mod agent;
pub mod events;
pub mod expr;
pub mod node;
pub mod nodes;
pub mod orchestrator;
pub mod sandbox;
pub mod worker;
