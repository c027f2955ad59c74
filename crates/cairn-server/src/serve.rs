//! Starting and stopping the service in-process.

use axum::serve::ListenerExt;
use std::net::SocketAddr;
use std::sync::Arc;

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::event_bus::{EventBus, LocalBus, PostgresBus, PostgresListener};
use crate::events::EventHub;
use crate::github::GithubProvider;
use crate::grant_cache::GrantCache;
use crate::presign::Presigner;
use crate::rate_limit::SignInLimits;
use crate::routes::router;
use crate::socket_slots::SocketSlots;
use crate::state::AppState;
use crate::tokens::new_id;
use crate::{Clock, ServerError};

/// How long shutdown waits for sockets to say goodbye and requests to end
/// after the listener closed.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Brings the registry `config` names up to date, and closes it: what
/// `cairn-server migrate` does.
pub async fn migrate(config: &Config) -> Result<(), ServerError> {
    crate::registry::open(config).await.map(drop)
}

/// A service listening on a socket, until [`RunningServer::shutdown`].
pub struct RunningServer {
    url: String,
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
    /// Closes once every copy of the state (every request and socket) is
    /// gone.
    drained: mpsc::Receiver<()>,
    listener: Option<PostgresListener>,
}

impl RunningServer {
    /// Validates `config`, opens the registry, binds `config.listen` (port 0
    /// picks a free port) and starts serving.
    pub async fn start(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<RunningServer, ServerError> {
        config.validate()?;
        let opened = crate::registry::open(&config).await?;
        let presigner = Presigner::new(
            &config.s3,
            config.grant_lifetime_secs,
            config.effective_grant_reuse_secs(),
            config.cache_grants,
        );
        let github = match &config.providers.github {
            Some(gh) => Some(Arc::new(GithubProvider::new(gh.clone())?)),
            None => None,
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| ServerError::io(config.listen.to_string(), e))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| ServerError::io(config.listen.to_string(), e))?;
        let url = match &config.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{local_addr}"),
        };
        let (stop, stopping) = watch::channel(false);
        let hub = Arc::new(EventHub::default());
        let (bus, events_listener): (Arc<dyn EventBus>, _) = match opened.postgres {
            Some(pg) => {
                // Names this instance on the bus, so it skips what it sent.
                let instance = new_id(12);
                let listener = PostgresListener::start(
                    pg.clone(),
                    hub.clone(),
                    instance.clone(),
                    stopping.clone(),
                )
                .await?;
                (
                    Arc::new(PostgresBus::new(pg, hub.clone(), instance)),
                    Some(listener),
                )
            }
            None => (Arc::new(LocalBus::new(hub.clone())), None),
        };
        let (in_flight, drained) = mpsc::channel(1);
        let registry = opened.registry;
        let state = AppState {
            sign_in_limits: Arc::new(SignInLimits::new(
                config.rate_limit,
                registry.clone(),
                clock.clone(),
            )),
            grant_cache: Arc::new(GrantCache::new(config.cache_grants)),
            config: Arc::new(config),
            registry,
            presigner: Arc::new(presigner),
            hub,
            bus,
            sockets: Arc::new(SocketSlots::default()),
            github,
            clock,
            stopping: stopping.clone(),
            in_flight,
        };
        let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
        let mut until = stopping;
        let task = tokio::spawn(async move {
            // Small writes (a response's head and body, an event frame)
            // go out at once: with Nagle's algorithm each waited for the
            // peer's delayed ACK, about 40 ms, on every other request.
            let listener = listener.tap_io(|tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %e, "TCP_NODELAY not set");
                }
            });
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    // An error means the sender is gone: stop as well.
                    if until.wait_for(|stop| *stop).await.is_err() {
                        tracing::debug!("stop signal dropped");
                    }
                })
                .await
        });
        Ok(RunningServer {
            url,
            local_addr,
            stop,
            task,
            drained,
            listener: events_listener,
        })
    }

    /// Where clients reach the service, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, closes event sockets (saying "reconnect", so their
    /// devices come back to another instance), waits for requests in
    /// flight.
    pub async fn shutdown(self) -> Result<(), ServerError> {
        self.stop.send_replace(true);
        self.wait().await
    }

    /// Waits until the server stops.
    pub async fn wait(mut self) -> Result<(), ServerError> {
        let served = match self.task.await {
            Ok(result) => result.map_err(|e| ServerError::io(self.local_addr.to_string(), e)),
            Err(e) => Err(ServerError::Internal(format!("server task: {e}"))),
        };
        // Upgraded sockets outlive the HTTP server's own graceful shutdown;
        // each holds a copy of the state until its close frame went out.
        if tokio::time::timeout(DRAIN_TIMEOUT, self.drained.recv())
            .await
            .is_err()
        {
            tracing::warn!("requests or sockets still open at shutdown");
        }
        if let Some(listener) = self.listener.take() {
            listener.stopped().await;
        }
        served
    }
}
