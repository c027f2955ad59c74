//! What every request handler shares.

use std::sync::Arc;

use crate::config::Config;
use crate::event_bus::EventBus;
use crate::events::EventHub;
use crate::github::GithubProvider;
use crate::grant_cache::GrantCache;
use crate::presign::Presigner;
use crate::rate_limit::SignInLimits;
use crate::registry::Registry;
use crate::socket_slots::SocketSlots;
use crate::Clock;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub registry: Arc<dyn Registry>,
    pub presigner: Arc<Presigner>,
    /// This instance's sockets, by user.
    pub hub: Arc<EventHub>,
    /// How a change reaches the sockets of every instance.
    pub bus: Arc<dyn EventBus>,
    pub sockets: Arc<SocketSlots>,
    pub sign_in_limits: Arc<SignInLimits>,
    pub grant_cache: Arc<GrantCache>,
    pub github: Option<Arc<GithubProvider>>,
    pub clock: Arc<dyn Clock>,
    /// Turns true when the server stops, so long-lived sockets end too.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// Held by every copy of the state, so by every request and socket in
    /// flight: shutdown waits until the last one is dropped. Never sent on.
    #[allow(dead_code)]
    pub in_flight: tokio::sync::mpsc::Sender<()>,
}
