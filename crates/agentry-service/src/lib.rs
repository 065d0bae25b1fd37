//! # agentry-service
//!
//! The operations people and agents perform, in one place: auth and users, workflows with their
//! nodes and edges, the workflow DSL ([`dsl`]: validate, apply in one transaction, export),
//! executions (create, read, cancel, resume), workflow discovery ([`discovery`]: capability
//! gap analysis with cached capabilities and ranked full text), and the event bus. The HTTP routes (`agentry-server`) and the agent tools
//! (`agentry-engine`) both call these functions, so a rule is enforced once whichever door a
//! request comes through.
//!
//! Every state change runs in one store transaction, adds its events to the outbox in that
//! transaction, and publishes them on the [`EventBus`] only after the commit.
//!
//! Errors are one enum, [`ServiceError`], mapped to HTTP once in `agentry-server`.

pub mod auth;
pub mod caller;
pub mod chat;
pub mod credentials;
pub mod discovery;
pub mod dsl;
pub mod dto;
pub mod edges;
mod error;
pub mod events;
pub mod executions;
pub mod nodes;
pub mod registry;
pub mod schedules;
pub mod secrets;
pub mod signature;
pub mod workflows;

pub use caller::Caller;
pub use error::{ServiceError, ServiceResult};
pub use events::EventBus;

use agentry_store::Db;

/// Everything an operation needs; cheap to clone.
#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub bus: EventBus,
    /// Wakes this process's workers when new jobs were committed (other processes poll).
    pub work: std::sync::Arc<tokio::sync::Notify>,
    /// Seals credential secrets at rest (`secrets`); the same key in every process.
    pub secrets: std::sync::Arc<secrets::SecretBox>,
    /// The base URL clients reach this deployment at (`--public-url`), for links such as a
    /// DSL-built webhook workflow's `webhook_url`; `None` where unknown.
    pub public_url: Option<String>,
    /// Credentials' model lists for DSL model resolution (`dsl`).
    pub(crate) model_lists: std::sync::Arc<dsl::ModelListCache>,
}

impl Services {
    /// Services with an ephemeral secret key (tests, commands that never read stored
    /// credentials); `serve` and `worker` use [`Services::with_secrets`].
    pub fn new(db: Db) -> Self {
        Services::with_secrets(db, secrets::SecretBox::ephemeral())
    }

    pub fn with_secrets(db: Db, secrets: secrets::SecretBox) -> Self {
        Services {
            db,
            bus: EventBus::new(),
            work: Default::default(),
            secrets: std::sync::Arc::new(secrets),
            public_url: None,
            model_lists: Default::default(),
        }
    }

    /// Commits a transaction and publishes its events.
    pub(crate) async fn commit(&self, tx: agentry_store::Tx) -> ServiceResult<()> {
        let events = tx.commit().await?;
        self.bus.publish(events);
        Ok(())
    }
}
