//! `GET /v1/events`: a WebSocket carrying [`ServiceEvent`]s as JSON text.
//!
//! 1. The upgrade request is authenticated like any other, except that the
//!    token may also come as `?access_token=` (browsers cannot set headers
//!    on a WebSocket). A plain GET without the upgrade headers gets a JSON
//!    426.
//! 2. The socket subscribes to the user's channel, re-reads its session
//!    (a logout between the authentication and the subscription would
//!    otherwise go unheard), then sends `subscribed`: every event after
//!    that message reaches this socket.
//! 3. Events whose origin is this session's device are not echoed back.
//! 4. The socket lives no longer than the session that opened it. It is
//!    closed, with a close frame whose reason says why, when its device is
//!    revoked ("device revoked", after the `device_revoked` event itself),
//!    when its session logs out ("signed out"), and when the access token
//!    it was opened with expires ("session expired"; the client reconnects
//!    with a refreshed token). Revocation and logout arrive as messages on
//!    the user's channel, so they act at once and cost nothing while idle;
//!    since the channel drops messages for a listener that falls behind, a
//!    socket that lagged re-reads its session from the registry rather
//!    than assume it missed nothing. Expiry is a timer on the service's
//!    clock (so a test that moves the clock sees the socket close).
//! 5. A session keeps at most a few sockets open, and a user a few dozen
//!    ([`crate::socket_slots`]); one more closes the oldest, with the
//!    reason "replaced by a newer connection".
//! 6. A client message over 4 KiB closes the socket with 1009 (message
//!    too big) rather than being buffered. The one message a client may
//!    send is `live`: changes it just made, sealed with the user's content
//!    key. They go to the user's other sockets opened with `?live=1` (on
//!    every instance), at most [`LIVE_PER_SECOND`] a second per socket
//!    (more are dropped: the changes also reach storage, so a dropped one
//!    is only late). The other is `space_live`: changes to notes of a
//!    shared space, sealed with its epoch key. The service checks, on each
//!    one, that the sender is an owner or editor of that space now (a
//!    viewer's or a removed member's are dropped), and puts it on the
//!    channel of every other current member, whose sockets opened with
//!    `?live=1` get it (the sender's own devices have the personal lane);
//!    both kinds share
//!    the socket's rate limit. Anything else a client sends is ignored.
//! 7. A ping every 20 s keeps idle proxies from closing the socket; the
//!    socket also ends when the client closes it or stops reading, and
//!    when the server stops, with the reason "reconnect" (the client comes
//!    back, through the load balancer, to an instance still running).
//!
//! A listener that falls too far behind skips events rather than blocking
//! others; its next poll of the peers' heads catches up.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{close_code, CloseFrame, Message, Utf8Bytes, WebSocket};
use axum::extract::{Query, State};
use axum::response::Response;
use base64::Engine as _;
use cairn_protocol::event::close_reason;
use cairn_protocol::{ClientMessage, DeviceId, ServiceEvent, SpaceId, MAX_CLIENT_MESSAGE};
use futures_util::{SinkExt, StreamExt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use tokio::sync::broadcast;

use crate::auth::{revocation, Caller, SessionEnd, SocketCaller};
use crate::clock::sleep_until;
use crate::events::HubMessage;
use crate::registry::Standing;
use crate::socket_upgrade::SocketUpgrade;
use crate::state::AppState;
use crate::ServerError;

const PING_EVERY: Duration = Duration::from_secs(20);
/// Live messages a socket may relay each second, and in a burst: well
/// above a fast typist's edits, far below a flood.
pub const LIVE_PER_SECOND: u32 = 30;
const LIVE_BURST: u32 = 60;

#[derive(Debug, Default, Deserialize)]
pub struct EventsQuery {
    /// `1`: this socket wants [`ServiceEvent::Live`] events.
    #[serde(default)]
    live: Option<u8>,
}
/// How long a closing socket waits for the client's close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

pub async fn events(
    State(state): State<AppState>,
    SocketCaller(caller): SocketCaller,
    SocketUpgrade(upgrade): SocketUpgrade,
    Query(query): Query<EventsQuery>,
) -> Result<Response, ServerError> {
    let live = query.live == Some(1);
    // Subscribe before the upgrade completes so that nothing published
    // after the client sees `subscribed` can be lost.
    let receiver = state.hub.subscribe(&caller.user_id);
    if let Some(end) = session_end(&state, &caller).await? {
        return Err(end.into());
    }
    // A client sends only small live messages, so there is no reason to
    // buffer megabytes of what it sends (axum allows 64 MiB).
    Ok(upgrade
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| serve_socket(socket, state, caller, receiver, live)))
}

/// Why the service closes a socket.
#[derive(Debug)]
enum SocketEnd {
    Session(SessionEnd),
    Stopping,
    /// A newer socket took this one's place under the caps.
    Replaced,
    /// The client sent a message over [`MAX_CLIENT_MESSAGE`].
    TooBig,
    /// The session could not be re-read; closing is the safe side.
    Internal,
}

impl SocketEnd {
    fn close_frame(&self) -> CloseFrame {
        let (code, reason) = match self {
            SocketEnd::Session(SessionEnd::DeviceRevoked(_)) => {
                (close_code::POLICY, close_reason::DEVICE_REVOKED)
            }
            SocketEnd::Session(SessionEnd::SignedOut) => {
                (close_code::POLICY, close_reason::SIGNED_OUT)
            }
            SocketEnd::Session(SessionEnd::Expired) => {
                (close_code::POLICY, close_reason::SESSION_EXPIRED)
            }
            SocketEnd::Stopping => (close_code::AWAY, close_reason::RECONNECT),
            SocketEnd::Replaced => (close_code::POLICY, close_reason::REPLACED),
            SocketEnd::TooBig => (close_code::SIZE, "message too big"),
            SocketEnd::Internal => (close_code::ERROR, "internal error"),
        };
        CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        }
    }
}

async fn serve_socket(
    socket: WebSocket,
    state: AppState,
    caller: Caller,
    mut receiver: broadcast::Receiver<Arc<HubMessage>>,
    live: bool,
) {
    let relay = LiveRelay::new(caller.device_id.clone());
    let mut slot = state.sockets.acquire(&caller.user_id, caller.session_id);
    let (mut sink, mut stream) = socket.split();
    let hello = ServiceEvent::Subscribed {
        device_id: caller.device_id.clone(),
    };
    if send_event(&mut sink, &hello).await.is_err() {
        return;
    }
    let mut stopping = state.stopping.clone();
    let clock = state.clock.clone();
    let expires_at_ms = caller.access_expires_at.saturating_mul(1000);
    let expiry = async move { sleep_until(clock.as_ref(), expires_at_ms).await };
    tokio::pin!(expiry);
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let end = loop {
        tokio::select! {
            message = receiver.recv() => match message {
                Ok(message) => match &*message {
                    HubMessage::Event { skip, event } => {
                        if skip.is_some() && *skip == caller.device_id {
                            continue;
                        }
                        if send_event(&mut sink, event).await.is_err() {
                            return;
                        }
                        // Whether the revoked device is this socket's: the
                        // registry knows, even when the socket opened before
                        // its session registered that device.
                        if matches!(event, ServiceEvent::DeviceRevoked { .. }) {
                            if let Some(end) = recheck(&state, &caller).await {
                                break end;
                            }
                        }
                    }
                    HubMessage::SessionEnded { session_id } => {
                        if *session_id == caller.session_id {
                            break SocketEnd::Session(SessionEnd::SignedOut);
                        }
                    }
                    HubMessage::Live { from, sealed } => {
                        if !live || caller.device_id.as_ref() == Some(from) {
                            continue;
                        }
                        let event = ServiceEvent::Live {
                            device_id: from.clone(),
                            sealed: sealed.clone(),
                        };
                        if send_event(&mut sink, &event).await.is_err() {
                            return;
                        }
                    }
                    HubMessage::SpaceLive { space, user, from, sealed } => {
                        if !live || caller.device_id.as_ref() == Some(from) {
                            continue;
                        }
                        let event = ServiceEvent::SpaceLive {
                            space_id: space.clone(),
                            user_id: user.clone(),
                            device_id: from.clone(),
                            sealed: sealed.clone(),
                        };
                        if send_event(&mut sink, &event).await.is_err() {
                            return;
                        }
                    }
                },
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    tracing::debug!(skipped, "event listener lagged");
                    if let Some(end) = recheck(&state, &caller).await {
                        break end;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            incoming = stream.next() => match incoming {
                Some(Err(e)) if is_too_big(&e) => break SocketEnd::TooBig,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(Message::Text(text))) => match relay.accept(text.as_str()) {
                    Some(Relayed::Own(message)) => {
                        state.bus.publish(&caller.user_id, message).await;
                    }
                    Some(Relayed::Space { space, from, sealed }) => {
                        relay_space_live(&state, &caller, space, from, sealed).await;
                    }
                    None => {}
                },
                // Pongs and anything else the client says are ignored.
                Some(Ok(_)) => {}
            },
            _ = stopping.changed() => break SocketEnd::Stopping,
            _ = &mut slot.evicted => break SocketEnd::Replaced,
            () = &mut expiry => break SocketEnd::Session(SessionEnd::Expired),
            _ = ping.tick() => {
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
        }
    };
    tracing::debug!(?end, session = caller.session_id, "closing event socket");
    // Best effort: the client reconnects (or gives up) either way.
    if sink
        .send(Message::Close(Some(end.close_frame())))
        .await
        .is_err()
    {
        return;
    }
    // Wait for the client's answering close frame, so the connection ends
    // cleanly rather than with a reset that could swallow ours.
    let answered = tokio::time::timeout(CLOSE_GRACE, async {
        while let Some(Ok(message)) = stream.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
    if answered.is_err() {
        tracing::debug!("client did not answer the close frame");
    }
}

/// Why the socket must close now, if its session ended since it opened.
async fn recheck(state: &AppState, caller: &Caller) -> Option<SocketEnd> {
    match session_end(state, caller).await {
        Ok(end) => end.map(SocketEnd::Session),
        Err(e) => {
            tracing::error!(error = %e, "re-reading a socket's session");
            Some(SocketEnd::Internal)
        }
    }
}

/// Puts a space's live message on the channels of the space's current
/// members, if its sender is an owner or editor there now. Read from the
/// registry on every message, as grants are: a removal or a change to
/// viewer stops the sender's messages at once, and a removed member's
/// channel is no longer among the recipients.
async fn relay_space_live(
    state: &AppState,
    caller: &Caller,
    space: SpaceId,
    from: DeviceId,
    sealed: String,
) {
    let members = match state.registry.space_members(&space).await {
        Ok(members) => members,
        Err(e) => {
            tracing::warn!(error = %e, "reading a space's members for a live message");
            return;
        }
    };
    let writes = members.iter().any(|m| {
        m.user == caller.user_id
            && matches!(m.standing, Standing::Member { role } if role.can_write())
    });
    if !writes {
        tracing::debug!(device = %from, "live message for a space the sender does not write in dropped");
        return;
    }
    // Not to the sender's own account: its devices get the same changes
    // on the personal lane.
    for m in members {
        if matches!(m.standing, Standing::Member { .. }) && m.user != caller.user_id {
            let message = HubMessage::SpaceLive {
                space: space.clone(),
                user: caller.user_id.clone(),
                from: from.clone(),
                sealed: sealed.clone(),
            };
            state.bus.publish(&m.user, message).await;
        }
    }
}

/// Whether the caller's session was revoked since it was authenticated.
async fn session_end(state: &AppState, caller: &Caller) -> Result<Option<SessionEnd>, ServerError> {
    match state.registry.session_by_id(caller.session_id).await? {
        Some(session) => revocation(state, &session).await,
        // Sessions are never deleted today; a missing one is surely over.
        None => Ok(Some(SessionEnd::SignedOut)),
    }
}

/// Whether reading failed because the client's message or frame was over
/// the limit (tungstenite's capacity error, under axum's).
fn is_too_big(error: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if matches!(
            e.downcast_ref::<tungstenite::Error>(),
            Some(tungstenite::Error::Capacity(_))
        ) {
            return true;
        }
        cause = e.source();
    }
    false
}

async fn send_event<S>(sink: &mut S, event: &ServiceEvent) -> Result<(), ()>
where
    S: futures_util::Sink<Message> + Unpin,
{
    let text = match serde_json::to_string(event) {
        Ok(text) => text,
        Err(e) => {
            tracing::error!(error = %e, "serializing an event");
            return Err(());
        }
    };
    sink.send(Message::Text(Utf8Bytes::from(text)))
        .await
        .map_err(|_| ())
}

const fn nonzero(n: u32) -> std::num::NonZeroU32 {
    match std::num::NonZeroU32::new(n) {
        Some(n) => n,
        None => std::num::NonZeroU32::MIN,
    }
}

/// What a socket relays of what its client sends.
struct LiveRelay {
    /// The socket's device; a session without one has nothing to relay.
    device: Option<DeviceId>,
    limit: DefaultDirectRateLimiter,
}

impl LiveRelay {
    fn new(device: Option<DeviceId>) -> LiveRelay {
        let quota = Quota::per_second(nonzero(LIVE_PER_SECOND)).allow_burst(nonzero(LIVE_BURST));
        LiveRelay {
            device,
            limit: RateLimiter::direct(quota),
        }
    }

    /// What to relay of `text`, if it is a live message this socket may
    /// relay now. The service cannot read what it relays; it only checks
    /// that it is base64, so junk is not fanned out.
    fn accept(&self, text: &str) -> Option<Relayed> {
        let from = self.device.clone()?;
        let (space, sealed) = match serde_json::from_str(text).ok()? {
            ClientMessage::Live { sealed } => (None, sealed),
            ClientMessage::SpaceLive { space_id, sealed } => (Some(space_id), sealed),
        };
        if sealed.is_empty()
            || base64::engine::general_purpose::STANDARD
                .decode(&sealed)
                .is_err()
        {
            return None;
        }
        if self.limit.check().is_err() {
            tracing::debug!(device = %from, "live messages over the rate limit dropped");
            return None;
        }
        Some(match space {
            None => Relayed::Own(HubMessage::Live { from, sealed }),
            Some(space) => Relayed::Space {
                space,
                from,
                sealed,
            },
        })
    }
}

/// A live message a socket accepted.
#[derive(Debug, PartialEq, Eq)]
enum Relayed {
    /// For the user's other devices.
    Own(HubMessage),
    /// For the members of a shared space, once the sender's role there
    /// is checked.
    Space {
        space: SpaceId,
        from: DeviceId,
        sealed: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Option<DeviceId> {
        Some(DeviceId::parse("d1").expect("valid"))
    }

    #[test]
    fn relays_live_messages_and_nothing_else() {
        let relay = LiveRelay::new(device());
        let ok = r#"{"type":"live","sealed":"AAEC"}"#;
        assert_eq!(
            relay.accept(ok),
            Some(Relayed::Own(HubMessage::Live {
                from: device().expect("device"),
                sealed: "AAEC".into()
            }))
        );
        let space = "0123456789abcdef0123456789abcdef";
        let in_space = format!(r#"{{"type":"space_live","space_id":"{space}","sealed":"AAEC"}}"#);
        assert_eq!(
            relay.accept(&in_space),
            Some(Relayed::Space {
                space: SpaceId::parse(space).expect("valid"),
                from: device().expect("device"),
                sealed: "AAEC".into()
            })
        );
        for junk in [
            "",
            "hello",
            r#"{"type":"live","sealed":""}"#,
            r#"{"type":"live","sealed":"not base64!"}"#,
            r#"{"type":"other"}"#,
            r#"{"type":"space_live","space_id":"not a space","sealed":"AAEC"}"#,
            r#"{"type":"space_live","space_id":"0123456789abcdef0123456789abcdef","sealed":""}"#,
        ] {
            assert_eq!(relay.accept(junk), None, "{junk:?}");
        }
        // A session with no device has nothing to relay.
        assert_eq!(LiveRelay::new(None).accept(ok), None);
    }

    #[test]
    fn a_flood_is_cut_at_the_burst() {
        let relay = LiveRelay::new(device());
        let msg = r#"{"type":"live","sealed":"AAEC"}"#;
        let passed = (0..LIVE_BURST * 3)
            .filter(|_| relay.accept(msg).is_some())
            .count() as u32;
        // The burst, and at most a few more refilled while the loop ran.
        assert!((LIVE_BURST..LIVE_BURST + 10).contains(&passed), "{passed}");
    }
}
