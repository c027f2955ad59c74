//! The core's synchronous [`Transport`] over a [`Bucket`], for code that
//! is not async: tests that read and write a device's objects exactly as
//! the device would, and tools. Sync itself uses the concurrent runner
//! (`round_runner`).

use cairn_core::sync::{Body, Fetched, Transport, TransportError};
use cairn_protocol::{DeviceKey, Grant};

use crate::bucket::Bucket;

pub struct HttpTransport {
    bucket: Bucket,
    runtime: tokio::runtime::Handle,
    grant: Grant,
}

impl HttpTransport {
    /// `runtime` runs the requests; call the transport's methods from a
    /// blocking thread (e.g. inside `spawn_blocking`), never from async code.
    pub fn new(grant: Grant, runtime: tokio::runtime::Handle) -> Result<Self, TransportError> {
        Ok(HttpTransport {
            bucket: Bucket::new()?,
            runtime,
            grant,
        })
    }

    pub fn grant(&self) -> &Grant {
        &self.grant
    }
}

impl Transport for HttpTransport {
    fn put(&mut self, key: DeviceKey, body: Body) -> Result<(), TransportError> {
        self.runtime
            .block_on(self.bucket.put(&self.grant, key, body))
    }

    fn get(
        &mut self,
        device: &str,
        key: DeviceKey,
        if_none_match: Option<&str>,
    ) -> Result<Fetched, TransportError> {
        self.runtime
            .block_on(self.bucket.get(&self.grant, device, key, if_none_match))
    }
}
