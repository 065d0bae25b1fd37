//! The WebSocket hub (api.md §10): `GET /ws/?token=KEY`.
//!
//! Each session keeps its subscribed channels and the last event id it delivered per channel.
//! Live events come from the in-process bus; a `subscribe` with `after` first replays stored
//! events from the outbox. A session that falls behind the bus catches up from the outbox, so
//! it never silently skips an event.

use crate::AppState;
use agentry_service::Caller;
use agentry_service::events::envelope;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

const IDLE_BEFORE_PING: Duration = Duration::from_secs(30);
const PONG_GRACE: Duration = Duration::from_secs(10);
const POLICY_VIOLATION: u16 = 1008;

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

pub async fn global_socket(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let caller = match q.token.as_deref() {
        Some(t) if !t.is_empty() => state.services.authenticate(t).await.ok(),
        _ => None,
    };
    ws.on_upgrade(move |socket| async move {
        match caller {
            Some(caller) => Session::new(state, caller).run(socket).await,
            None => close_policy(socket).await,
        }
    })
}

async fn close_policy(mut socket: WebSocket) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: POLICY_VIOLATION,
            reason: Utf8Bytes::from_static("Invalid or missing token"),
        })))
        .await;
}

struct Session {
    state: AppState,
    caller: Caller,
    /// channel → last event id delivered on it.
    channels: HashMap<String, i64>,
}

#[derive(Deserialize)]
struct ClientFrame {
    #[serde(rename = "type")]
    kind: String,
    channel: Option<String>,
    after: Option<i64>,
}

impl Session {
    fn new(state: AppState, caller: Caller) -> Self {
        Session {
            state,
            caller,
            channels: HashMap::new(),
        }
    }

    async fn run(mut self, mut socket: WebSocket) {
        let mut bus = self.state.services.bus.subscribe();
        let mut last_frame = Instant::now();
        let mut ping_sent: Option<Instant> = None;
        loop {
            let deadline = match ping_sent {
                Some(at) => at + PONG_GRACE,
                None => last_frame + IDLE_BEFORE_PING,
            };
            tokio::select! {
                incoming = socket.recv() => {
                    let Some(Ok(msg)) = incoming else { break };
                    last_frame = Instant::now();
                    ping_sent = None;
                    let keep_going = match msg {
                        Message::Text(text) => {
                            self.on_client_frame(&mut socket, text.as_str()).await
                        }
                        Message::Close(_) => false,
                        _ => true,
                    };
                    if !keep_going {
                        break;
                    }
                }
                event = bus.recv() => {
                    match event {
                        Ok(e) => {
                            let Some(last) = self.channels.get_mut(&e.channel) else { continue };
                            if e.id <= *last {
                                continue; // already delivered by a replay
                            }
                            *last = e.id;
                            if send_json(&mut socket, &envelope(&e)).await.is_err() {
                                break;
                            }
                        }
                        Err(RecvError::Lagged(_)) => {
                            if !self.catch_up(&mut socket).await {
                                break;
                            }
                        }
                        Err(RecvError::Closed) => break,
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    if ping_sent.is_some() {
                        break; // no answer to our ping
                    }
                    if send_json(&mut socket, &json!({"type": "ping"})).await.is_err() {
                        break;
                    }
                    ping_sent = Some(Instant::now());
                }
            }
        }
        let _ = socket.send(Message::Close(None)).await;
    }

    /// Handles one client frame; false ends the session.
    async fn on_client_frame(&mut self, socket: &mut WebSocket, text: &str) -> bool {
        let Ok(frame) = serde_json::from_str::<ClientFrame>(text) else {
            return true;
        };
        match (frame.kind.as_str(), frame.channel) {
            ("subscribe", Some(channel)) => self.subscribe(socket, channel, frame.after).await,
            ("unsubscribe", Some(channel)) => {
                self.channels.remove(&channel);
                send_json(socket, &json!({"type": "unsubscribed", "channel": channel}))
                    .await
                    .is_ok()
            }
            _ => true, // pong and unknown types: nothing to do
        }
    }

    async fn subscribe(
        &mut self,
        socket: &mut WebSocket,
        channel: String,
        after: Option<i64>,
    ) -> bool {
        let allowed = self
            .state
            .services
            .can_read_channel(&self.caller, &channel)
            .await
            .unwrap_or(false);
        if !allowed {
            return send_json(
                socket,
                &json!({"type": "error", "channel": channel, "detail": "forbidden"}),
            )
            .await
            .is_ok();
        }
        let Some(after) = after else {
            // Live from now on: anything already committed is not re-sent.
            let latest = agentry_store::events::latest_id(&self.state.services.db)
                .await
                .ok()
                .flatten()
                .unwrap_or(0);
            self.channels.entry(channel.clone()).or_insert(latest);
            return send_json(socket, &json!({"type": "subscribed", "channel": channel}))
                .await
                .is_ok();
        };
        let (events, gap) = match self.state.services.replay(&channel, after).await {
            Ok(r) => r,
            Err(_) => (vec![], true),
        };
        let mut reply = json!({"type": "subscribed", "channel": channel});
        if gap {
            reply["gap"] = json!(true);
        }
        if send_json(socket, &reply).await.is_err() {
            return false;
        }
        let mut last = after;
        for e in &events {
            if send_json(socket, &envelope(e)).await.is_err() {
                return false;
            }
            last = e.id;
        }
        self.channels.insert(channel, last);
        true
    }

    /// After lagging behind the bus: re-read every subscribed channel from the outbox.
    async fn catch_up(&mut self, socket: &mut WebSocket) -> bool {
        let channels: Vec<(String, i64)> =
            self.channels.iter().map(|(c, l)| (c.clone(), *l)).collect();
        for (channel, last) in channels {
            let Ok((events, _)) = self.state.services.replay(&channel, last).await else {
                continue;
            };
            for e in &events {
                if send_json(socket, &envelope(e)).await.is_err() {
                    return false;
                }
                self.channels.insert(channel.clone(), e.id);
            }
        }
        true
    }
}

async fn send_json(socket: &mut WebSocket, v: &Value) -> Result<(), axum::Error> {
    socket.send(Message::Text(v.to_string().into())).await
}

/// `GET /ws/executions/{id}/?token=KEY`: server-push stream of one execution's events. Stored
/// events are replayed first; the socket closes after the execution's final event.
pub async fn execution_socket(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let caller = match q.token.as_deref() {
        Some(t) if !t.is_empty() => state.services.authenticate(t).await.ok(),
        _ => None,
    };
    let visible = match &caller {
        Some(c) => state.services.visible_execution(c, &id).await.is_ok(),
        None => false,
    };
    ws.on_upgrade(move |socket| async move {
        if visible {
            stream_execution(state, id, socket).await;
        } else {
            close_policy(socket).await;
        }
    })
}

const FINAL_EVENTS: [&str; 3] = [
    "execution_completed",
    "execution_failed",
    "execution_cancelled",
];

async fn stream_execution(state: AppState, id: String, mut socket: WebSocket) {
    let channel = format!("execution:{id}");
    let mut bus = state.services.bus.subscribe();
    let mut last = 0;
    // Replay what is stored (subscribed first, so nothing falls between replay and live).
    if let Ok((events, _)) = state.services.replay(&channel, 0).await {
        for e in &events {
            if send_json(&mut socket, &envelope(e)).await.is_err() {
                return;
            }
            last = e.id;
            if FINAL_EVENTS.contains(&e.kind.as_str()) {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
        }
    }
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                match incoming {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    _ => {}
                }
            }
            event = bus.recv() => {
                let events = match event {
                    Ok(e) if e.channel == channel && e.id > last => vec![e],
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => match state.services.replay(&channel, last).await {
                        Ok((events, _)) => events.into_iter().map(std::sync::Arc::new).collect(),
                        Err(_) => return,
                    },
                    Err(RecvError::Closed) => return,
                };
                for e in events {
                    if send_json(&mut socket, &envelope(&e)).await.is_err() {
                        return;
                    }
                    last = e.id;
                    if FINAL_EVENTS.contains(&e.kind.as_str()) {
                        let _ = socket.send(Message::Close(None)).await;
                        return;
                    }
                }
            }
        }
    }
}
