//! The one event bus. Services add events to the outbox inside their transaction; after the
//! commit the stored events (with ids) are published here, and WebSocket sessions filter them by
//! the channels they subscribed to (and may read).

use crate::{Caller, ServiceResult, Services};
use agentry_store::{Event, events as outbox, workflows};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::broadcast;

/// Fan-out of committed events to every subscriber in this process.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<Event>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        // A slow subscriber that falls this far behind is told it lagged and catches up from
        // the outbox by id, so nothing is lost.
        let (tx, _) = broadcast::channel(4096);
        EventBus { tx }
    }

    pub fn publish(&self, events: Vec<Event>) {
        for e in events {
            // No receivers is fine: nobody is watching.
            let _ = self.tx.send(Arc::new(e));
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }
}

/// The JSON envelope sent to WebSocket clients (api.md §10).
pub fn envelope(e: &Event) -> Value {
    let ts = agentry_core::time::unix_seconds(e.created_at);
    match &e.execution_id {
        Some(exec) => {
            let mut v = json!({"type": e.kind, "execution_id": exec, "timestamp": ts, "data": e.data.0, "id": e.id});
            if !e.channel.starts_with("execution:") {
                v["channel"] = json!(e.channel);
            }
            v
        }
        None => {
            json!({"type": e.kind, "channel": e.channel, "timestamp": ts, "data": e.data.0, "id": e.id})
        }
    }
}

impl Services {
    /// May the caller subscribe to `channel`? (`workflow:` its own workflows, `execution:`
    /// executions it may see, `epic:` its own epics; admins any.)
    /// Kinds of channel that later parts of the system add answer here too.
    pub async fn can_read_channel(&self, caller: &Caller, channel: &str) -> ServiceResult<bool> {
        if caller.is_admin() {
            return Ok(true);
        }
        if let Some(slug) = channel.strip_prefix("workflow:") {
            let wf = workflows::get_by_slug(&self.db, slug).await?;
            return Ok(wf.is_some_and(|w| caller.owns(w.owner_id)));
        }
        if let Some(id) = channel.strip_prefix("execution:") {
            return Ok(self.visible_execution(caller, id).await.is_ok());
        }
        if let Some(id) = channel.strip_prefix("epic:") {
            let scope = crate::registry::Scope::of(caller);
            return Ok(self.visible_epic(scope, id).await.is_ok());
        }
        Ok(false)
    }

    /// Stored events of `channel` after `after`, and whether some may be missing (pruned).
    pub async fn replay(&self, channel: &str, after: i64) -> ServiceResult<(Vec<Event>, bool)> {
        let oldest = outbox::oldest_id(&self.db).await?;
        let gap = match oldest {
            Some(oldest) => oldest > after + 1,
            None => false,
        };
        let events = outbox::list_after(&self.db, channel, after, 10_000).await?;
        Ok((events, gap))
    }
}
