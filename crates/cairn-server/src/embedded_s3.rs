//! An S3 server inside this process, for `cairn-server dev` and tests:
//! s3s-fs storing into a directory, with SigV4 checked by s3s's
//! `SimpleAuth` (so presigned URLs, their methods and keys are verified
//! exactly as a real store would), served by hyper on loopback. A
//! presigned URL's expiry is judged by the injected clock, before s3s
//! sees the request (`presigned_expiry.rs` says why).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use hyper_util::server::graceful::GracefulShutdown;
use s3s::auth::SimpleAuth;
use s3s::config::{S3Config as S3sConfig, StaticConfigProvider};
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::conditional_store::ConditionalStore;
use crate::{presigned_expiry, Clock, ServerError};

/// A running embedded S3 server.
pub struct EmbeddedS3 {
    endpoint: String,
    port: u16,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

/// Logs what the store answered. s3s itself logs every refused request at
/// ERROR, a bad signature or a missing key included, which would bury the
/// store's own failures under what clients got wrong; so its log is off by
/// default ([`crate::DEFAULT_LOG_FILTER`]) and this says it instead: the
/// store failing at ERROR, a refusal at DEBUG.
fn log_answer(answer: &Result<s3s::HttpResponse, s3s::HttpError>) {
    match answer {
        Ok(response) if response.status().is_server_error() => {
            tracing::error!(status = %response.status(), "embedded S3: request failed");
        }
        Ok(response) => tracing::debug!(status = %response.status(), "embedded S3: answered"),
        Err(e) => tracing::error!(error = ?e, "embedded S3: request failed"),
    }
}

impl EmbeddedS3 {
    /// Serves `root` (one directory per bucket) on `listen`, accepting only
    /// requests signed with the given credentials, and creates `bucket`.
    /// Presigned URLs expire by `clock`.
    pub async fn start(
        root: &Path,
        listen: SocketAddr,
        bucket: &str,
        access_key_id: &str,
        secret_access_key: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<EmbeddedS3, ServerError> {
        // s3s-fs keeps a bucket as a directory under its root.
        let bucket_dir = root.join(bucket);
        crate::private_files::create_dir_all(&bucket_dir)
            .map_err(|e| ServerError::io(&bucket_dir, e))?;
        let fs =
            s3s_fs::FileSystem::new(root).map_err(|e| ServerError::EmbeddedS3(format!("{e:?}")))?;
        let mut builder = S3ServiceBuilder::new(ConditionalStore::new(fs));
        builder.set_auth(SimpleAuth::from_single(access_key_id, secret_access_key));
        // The time window is checked against `clock` below; s3s's own check
        // against the wall clock would refuse a moved clock's URLs.
        let mut config = S3sConfig::default();
        config.presigned_url_max_skew_time_secs = u32::MAX;
        builder.set_config(Arc::new(StaticConfigProvider::new(Arc::new(config))));
        let s3 = builder.build();
        let service = hyper::service::service_fn(move |request: hyper::Request<_>| {
            let (s3, clock) = (s3.clone(), clock.clone());
            async move {
                match presigned_expiry::check(request.uri(), clock.as_ref()) {
                    Some(refusal) => Ok(presigned_expiry::response(refusal)),
                    None => s3.call(request.map(s3s::Body::from)).await,
                }
            }
        });

        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| ServerError::io(listen.to_string(), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| ServerError::io(listen.to_string(), e))?;
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            let graceful = GracefulShutdown::new();
            loop {
                let socket = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((socket, _)) => socket,
                        Err(e) => {
                            tracing::warn!(error = %e, "embedded S3: accept failed");
                            continue;
                        }
                    },
                    _ = &mut stopped => break,
                };
                // A response's head and body go out at once, not the body
                // after the client's delayed ACK (about 40 ms).
                if let Err(e) = socket.set_nodelay(true) {
                    tracing::debug!(error = %e, "embedded S3: TCP_NODELAY not set");
                }
                let service = service.clone();
                let logged = hyper::service::service_fn(move |request| {
                    let answer = hyper::service::Service::call(&service, request);
                    async move {
                        let answer = answer.await;
                        log_answer(&answer);
                        answer
                    }
                });
                let connection = http
                    .serve_connection(TokioIo::new(socket), logged)
                    .into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!(error = %e, "embedded S3: connection ended");
                    }
                });
            }
            // Idle keep-alive connections would hold shutdown forever.
            if tokio::time::timeout(Duration::from_secs(2), graceful.shutdown())
                .await
                .is_err()
            {
                tracing::debug!("embedded S3: connections still open at shutdown");
            }
        });
        Ok(EmbeddedS3 {
            endpoint: format!("http://{addr}"),
            port: addr.port(),
            stop: Some(stop),
            task,
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The port it listens on (chosen by the system when asked for 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            // The task may have ended already; then there is nothing to stop.
            if stop.send(()).is_err() {
                tracing::debug!("embedded S3 already stopped");
            }
        }
        if let Err(e) = (&mut self.task).await {
            tracing::warn!(error = %e, "embedded S3 task failed");
        }
    }
}
