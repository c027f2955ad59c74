//! Object storage in memory, for tests and examples: the same contract as
//! the HTTP runner (own keys writable, everyone's readable, ETags), plus
//! switches to inject the faults real storage has.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cairn_protocol::DeviceKey;

use crate::sync::transport::{Body, Fetched, Transport, TransportError, TransportErrorKind};

#[derive(Default)]
struct Inner {
    objects: HashMap<(String, DeviceKey), (Vec<u8>, String)>,
    next_etag: u64,
    requests: u64,
    /// Fail the next N requests as unavailable.
    fail_next: u32,
    /// Fail every request as unauthorized (an expired grant).
    expired: bool,
}

/// Shared storage; `device(id)` gives one device's view of it.
#[derive(Clone, Default)]
pub struct MemoryStorage(Arc<Mutex<Inner>>);

impl MemoryStorage {
    pub fn device(&self, id: &str) -> MemoryTransport {
        MemoryTransport {
            storage: self.clone(),
            me: id.to_string(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        match self.0.lock() {
            Ok(mut g) => f(&mut g),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    pub fn requests(&self) -> u64 {
        self.with(|i| i.requests)
    }

    pub fn fail_next(&self, n: u32) {
        self.with(|i| i.fail_next = n);
    }

    pub fn set_expired(&self, expired: bool) {
        self.with(|i| i.expired = expired);
    }

    /// Raw access, to damage or swap objects in tests.
    pub fn object(&self, device: &str, key: DeviceKey) -> Option<Vec<u8>> {
        self.with(|i| {
            i.objects
                .get(&(device.to_string(), key))
                .map(|(b, _)| b.clone())
        })
    }

    pub fn put_raw(&self, device: &str, key: DeviceKey, body: Vec<u8>) {
        self.with(|i| {
            i.next_etag += 1;
            let etag = format!("\"{}\"", i.next_etag);
            i.objects.insert((device.to_string(), key), (body, etag));
        });
    }

    pub fn total_bytes(&self) -> u64 {
        self.with(|i| i.objects.values().map(|(b, _)| b.len() as u64).sum())
    }
}

pub struct MemoryTransport {
    storage: MemoryStorage,
    me: String,
}

impl MemoryTransport {
    fn check(i: &mut Inner) -> Result<(), TransportError> {
        i.requests += 1;
        if i.expired {
            return Err(TransportError::new(
                TransportErrorKind::Unauthorized,
                "403: request has expired",
            ));
        }
        if i.fail_next > 0 {
            i.fail_next -= 1;
            return Err(TransportError::new(
                TransportErrorKind::Unavailable,
                "503: slow down",
            ));
        }
        Ok(())
    }
}

impl Transport for MemoryTransport {
    fn put(&mut self, key: DeviceKey, body: Body) -> Result<(), TransportError> {
        let me = self.me.clone();
        let body = body.into_bytes().map_err(|e| {
            TransportError::new(
                TransportErrorKind::Rejected,
                format!("reading the upload: {e}"),
            )
        })?;
        self.storage.with(|i| {
            Self::check(i)?;
            i.next_etag += 1;
            let etag = format!("\"{}\"", i.next_etag);
            i.objects.insert((me, key), (body, etag));
            Ok(())
        })
    }

    fn get(
        &mut self,
        device: &str,
        key: DeviceKey,
        if_none_match: Option<&str>,
    ) -> Result<Fetched, TransportError> {
        self.storage.with(|i| {
            Self::check(i)?;
            Ok(match i.objects.get(&(device.to_string(), key)) {
                None => Fetched::Missing,
                Some((_, etag)) if Some(etag.as_str()) == if_none_match => Fetched::NotModified,
                Some((body, etag)) => Fetched::Found {
                    body: body.clone(),
                    etag: Some(etag.clone()),
                },
            })
        })
    }
}
