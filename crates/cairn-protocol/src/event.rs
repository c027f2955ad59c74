//! Live notifications pushed on `GET /v1/events` (WebSocket, one JSON text
//! message per event).

use serde::{Deserialize, Serialize};

use crate::{DeviceId, DeviceName, SpaceId, UserId};

/// One notification for a user's devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServiceEvent {
    /// First message on a new connection: from here on nothing is missed.
    Subscribed { device_id: Option<DeviceId> },
    /// A peer committed a new head: poll it now.
    Published { device_id: DeviceId, seq: u64 },
    /// A new device joined: refresh the grant to read it.
    DeviceJoined {
        device_id: DeviceId,
        name: DeviceName,
    },
    DeviceRenamed {
        device_id: DeviceId,
        name: DeviceName,
    },
    /// A device was revoked: refresh the grant (and stop if it is us).
    DeviceRevoked { device_id: DeviceId },
    /// Changes a peer just made, sealed with the user's content key (the
    /// service relays bytes it cannot read). Only sent on sockets opened
    /// with [`LIVE_QUERY`]; the same changes reach storage with the peer's
    /// next publish, so a lost one costs nothing but time.
    Live { device_id: DeviceId, sealed: String },
    /// A member's device committed a new head in a shared space: poll it.
    /// Sent to the members' sockets only; an older client skips it as an
    /// unknown kind.
    SpacePublished {
        space_id: SpaceId,
        user_id: UserId,
        device_id: DeviceId,
        seq: u64,
    },
    /// A membership record landed: read the space's records after the
    /// last one verified. Sent to members and pending invitees.
    SpaceRecord { space_id: SpaceId, seq: u64 },
    /// Changes a member's device just made to notes of a shared space,
    /// sealed with the space's epoch key (envelope version 2). Sent only
    /// to sockets opened with [`LIVE_QUERY`], of the space's current
    /// members, and only from an owner's or editor's device; the same
    /// changes reach storage with the sender's next publish there.
    SpaceLive {
        space_id: SpaceId,
        user_id: UserId,
        device_id: DeviceId,
        sealed: String,
    },
}

/// The query of `GET /v1/events` that asks for [`ServiceEvent::Live`]
/// events. Sockets without it never get one, so a version that does not
/// know them is not sent them.
pub const LIVE_QUERY: &str = "live=1";

/// The largest text message a client may send on the socket; a sealed
/// live message must fit in it (with its JSON around it).
pub const MAX_CLIENT_MESSAGE: usize = 4 * 1024;

/// What a device sends on its event socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Changes this device just made, sealed, base64: for the user's other
    /// devices, as [`ServiceEvent::Live`].
    Live { sealed: String },
    /// Changes this device just made to notes of shared space `space_id`,
    /// sealed with its epoch key, base64: for the members' devices, as
    /// [`ServiceEvent::SpaceLive`].
    SpaceLive { space_id: SpaceId, sealed: String },
}

/// Reasons in the close frame when the service ends a socket, so that a
/// client can tell which call for new tokens and which for signing in.
pub mod close_reason {
    /// The access token the socket opened with ran out: refresh, reconnect.
    pub const SESSION_EXPIRED: &str = "session expired";
    /// The session signed out.
    pub const SIGNED_OUT: &str = "signed out";
    /// This device was removed from the account.
    pub const DEVICE_REVOKED: &str = "device revoked";
    /// The session or user opened more sockets than the service keeps;
    /// this, the oldest, made room. A client that still wants it reconnects.
    pub const REPLACED: &str = "replaced by a newer connection";
    /// The instance is stopping: connect again (another instance, or this
    /// one once back, takes over) and poll what may have been missed.
    pub const RECONNECT: &str = "reconnect";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shape() {
        let e = ServiceEvent::Published {
            device_id: DeviceId::parse("d1").expect("valid"),
            seq: 7,
        };
        let json = serde_json::to_string(&e).expect("serialize");
        assert_eq!(json, r#"{"type":"published","device_id":"d1","seq":7}"#);
        assert_eq!(
            serde_json::from_str::<ServiceEvent>(&json).expect("parse"),
            e
        );
    }
}
