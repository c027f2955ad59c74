//! The answer to `POST /v1/devices/{id}/grant`: presigned URLs for a
//! device's own keys (PUT and GET) and its peers' keys (GET only).

use serde::{Deserialize, Serialize};

use crate::{
    BlobSlot, DeviceId, DeviceKey, DeviceName, Platform, ProtocolError, UserId, BLOB_SLOTS,
    LOG_SLOTS, SNAPSHOT_SLOTS,
};

/// The query parameter of a SigV4 presigned URL that differs per key.
const SIGNATURE_PARAM: &str = "X-Amz-Signature=";
/// Where the slot number goes in [`BlobUrls::template`].
const SLOT_PLACEHOLDER: &str = "{slot}";
/// Hex digits of one SigV4 signature.
const SIGNATURE_HEX: usize = 64;

/// Presigned URLs for every blob slot of one device, in compact form.
///
/// URLs presigned in one batch share endpoint, credential, date, expiry
/// and signed headers; only the key and the signature differ. So the grant
/// carries one template and the signatures (32 bytes each, run together
/// in slot order, in unpadded base64url) instead of 256 full URLs: about
/// 11 KB per device and access instead of about 150 KB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobUrls {
    /// A presigned URL with `{slot}` for the slot digits and no signature.
    pub template: String,
    pub signatures: String,
}

impl BlobUrls {
    /// Compacts `urls`, the presigned URL of each slot in order. Fails
    /// when they differ in anything but the slot and the signature.
    pub fn compact(urls: &[String]) -> Result<BlobUrls, ProtocolError> {
        let bad = |why: String| ProtocolError::BlobTemplate(why);
        if urls.len() != BLOB_SLOTS as usize {
            return Err(bad(format!("{} URLs for {BLOB_SLOTS} slots", urls.len())));
        }
        let mut template: Option<String> = None;
        let mut signatures = Vec::with_capacity(urls.len() * SIGNATURE_HEX / 2);
        for (slot, url) in BlobSlot::all().zip(urls) {
            let (rest, signature) = split_signature(url)
                .ok_or_else(|| bad(format!("the URL of slot {} has no signature", slot.get())))?;
            let marker = format!("/{}?", slot.relative());
            let placeholder = format!("/blob/{SLOT_PLACEHOLDER}?");
            if rest.matches(&marker).count() != 1 {
                return Err(bad(format!(
                    "the URL of slot {} does not name it once",
                    slot.get()
                )));
            }
            let this = rest.replacen(&marker, &placeholder, 1);
            match &template {
                None => template = Some(this),
                Some(t) if *t == this => {}
                Some(_) => {
                    return Err(bad(format!(
                        "the URL of slot {} differs from slot 0's in more than key and signature",
                        slot.get()
                    )))
                }
            }
            signatures.extend(hex::decode(&signature).map_err(|e| bad(e.to_string()))?);
        }
        Ok(BlobUrls {
            template: template.unwrap_or_default(),
            signatures: data_encoding::BASE64URL_NOPAD.encode(&signatures),
        })
    }

    /// The full presigned URL of `slot`, if this set has it.
    pub fn url(&self, slot: BlobSlot) -> Option<String> {
        let raw = data_encoding::BASE64URL_NOPAD
            .decode(self.signatures.as_bytes())
            .ok()?;
        let at = slot.get() as usize * SIGNATURE_HEX / 2;
        let signature = hex::encode(raw.get(at..at + SIGNATURE_HEX / 2)?);
        if !self.template.contains(SLOT_PLACEHOLDER) {
            return None;
        }
        let url = self.template.replacen(SLOT_PLACEHOLDER, &slot.digits(), 1);
        let joiner = if url.contains('?') { '&' } else { '?' };
        Some(format!("{url}{joiner}{SIGNATURE_PARAM}{signature}"))
    }
}

/// The URL without its signature parameter, and the signature.
fn split_signature(url: &str) -> Option<(String, String)> {
    let (base, query) = url.split_once('?')?;
    let mut signature = None;
    let mut kept = Vec::new();
    for param in query.split('&') {
        match param.strip_prefix(SIGNATURE_PARAM) {
            Some(s) if s.len() == SIGNATURE_HEX && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
                signature = Some(s.to_owned());
            }
            _ => kept.push(param),
        }
    }
    Some((format!("{base}?{}", kept.join("&")), signature?))
}

/// One presigned URL for each of a device's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectUrls {
    pub head: String,
    /// Indexed by snapshot slot; `SNAPSHOT_SLOTS` entries.
    pub snapshot: Vec<String>,
    /// Indexed by log slot; `LOG_SLOTS` entries.
    pub log: Vec<String>,
    /// Indexed by snapshot slot: the snapshots' digests. Empty in grants
    /// from a service older than digests (a device then publishes its
    /// snapshots without one); a client older than digests ignores the
    /// field, as serde ignores fields a struct does not name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub digest: Vec<String>,
}

impl ObjectUrls {
    /// Builds the set from a function that presigns one key.
    pub fn build<E>(mut url_for: impl FnMut(DeviceKey) -> Result<String, E>) -> Result<Self, E> {
        let head = url_for(DeviceKey::Head)?;
        let snapshot = DeviceKey::all()
            .filter(|k| matches!(k, DeviceKey::Snapshot(_)))
            .map(&mut url_for)
            .collect::<Result<Vec<_>, E>>()?;
        let log = DeviceKey::all()
            .filter(|k| matches!(k, DeviceKey::Log(_)))
            .map(&mut url_for)
            .collect::<Result<Vec<_>, E>>()?;
        let digest = DeviceKey::all()
            .filter(|k| matches!(k, DeviceKey::Digest(_)))
            .map(&mut url_for)
            .collect::<Result<Vec<_>, E>>()?;
        Ok(ObjectUrls {
            head,
            snapshot,
            log,
            digest,
        })
    }

    /// The URL for `key`, if the set is complete enough to have it.
    pub fn url(&self, key: DeviceKey) -> Option<&str> {
        match key {
            DeviceKey::Head => Some(self.head.as_str()),
            DeviceKey::Snapshot(s) => self.snapshot.get(s.get() as usize).map(String::as_str),
            DeviceKey::Log(s) => self.log.get(s.get() as usize).map(String::as_str),
            DeviceKey::Digest(s) => self.digest.get(s.get() as usize).map(String::as_str),
        }
    }

    /// Whether every key has a URL (a grant from a peer could be short).
    /// The digests are not required: a service older than them grants
    /// none, and a device then syncs without them.
    pub fn is_complete(&self) -> bool {
        self.snapshot.len() == SNAPSHOT_SLOTS as usize && self.log.len() == LOG_SLOTS as usize
    }
}

/// Read access to one of the user's other devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerGrant {
    pub device_id: DeviceId,
    pub name: DeviceName,
    pub platform: Platform,
    /// `users/{user}/devices/{device}/`, for display and diagnostics.
    pub prefix: String,
    pub get: ObjectUrls,
    /// Read the peer's attachment slots. Absent in grants from a service
    /// older than attachments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob_get: Option<BlobUrls>,
}

/// Everything a device needs to sync until `expires_at` (Unix seconds)
/// without asking the service again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub user_id: UserId,
    pub device_id: DeviceId,
    pub issued_at: i64,
    pub expires_at: i64,
    pub prefix: String,
    /// Write this device's own keys.
    pub put: ObjectUrls,
    /// Read this device's own keys back (after losing local state).
    pub get: ObjectUrls,
    /// Every other non-revoked device of the same user.
    pub peers: Vec<PeerGrant>,
    /// Write this device's attachment slots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob_put: Option<BlobUrls>,
    /// Read this device's attachment slots back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob_get: Option<BlobUrls>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn presigned(slot: BlobSlot, sig: &str) -> String {
        format!(
            "http://s3.local/bucket/users/key:u/devices/d/{}?x-id=PutObject&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature={sig}&X-Amz-SignedHeaders=host",
            slot.relative()
        )
    }

    #[test]
    fn blob_urls_compact_and_expand_to_the_same_urls() {
        let urls: Vec<String> = BlobSlot::all()
            .map(|s| presigned(s, &format!("{:064x}", s.get() * 7 + 1)))
            .collect();
        let compact = BlobUrls::compact(&urls).unwrap();
        assert!(
            serde_json::to_vec(&compact).unwrap().len()
                < urls.iter().map(String::len).sum::<usize>() / 2
        );
        for (slot, url) in BlobSlot::all().zip(&urls) {
            let again = compact.url(slot).unwrap();
            // The same parameters; only the signature moved to the end.
            let sorted = |u: &str| {
                let (b, q) = u.split_once('?').unwrap();
                let mut p: Vec<&str> = q.split('&').collect();
                p.sort();
                format!("{b}?{}", p.join("&"))
            };
            assert_eq!(sorted(&again), sorted(url));
        }
    }

    #[test]
    fn grants_with_and_without_digest_urls_parse_both_ways() {
        let urls = ObjectUrls::build(|k| Ok::<_, ()>(format!("u/{}", k.relative()))).unwrap();
        assert_eq!(
            urls.url(DeviceKey::digest(1).unwrap()),
            Some("u/snapshot/1.digest")
        );
        // What a client older than digests reads: the same struct without
        // the field (serde ignores the unknown one).
        #[derive(Deserialize)]
        struct OldUrls {
            head: String,
            snapshot: Vec<String>,
            log: Vec<String>,
        }
        let json = serde_json::to_string(&urls).unwrap();
        let old: OldUrls = serde_json::from_str(&json).unwrap();
        assert_eq!(
            (old.head, old.snapshot, old.log),
            (urls.head.clone(), urls.snapshot.clone(), urls.log.clone())
        );
        // What an older service sends: no digest URLs, still complete.
        let older = ObjectUrls {
            digest: Vec::new(),
            ..urls.clone()
        };
        let json = serde_json::to_string(&older).unwrap();
        assert!(!json.contains("digest"));
        let parsed: ObjectUrls = serde_json::from_str(&json).unwrap();
        assert!(parsed.is_complete());
        assert_eq!(parsed.url(DeviceKey::digest(0).unwrap()), None);
    }

    #[test]
    fn urls_that_differ_in_more_are_refused() {
        let mut urls: Vec<String> = BlobSlot::all()
            .map(|s| presigned(s, &"a".repeat(64)))
            .collect();
        urls[3] = urls[3].replace("AWS4-HMAC-SHA256", "OTHER");
        assert!(BlobUrls::compact(&urls).is_err());
        let short: Vec<String> = urls[..10].to_vec();
        assert!(BlobUrls::compact(&short).is_err());
        let mut unsigned: Vec<String> = BlobSlot::all()
            .map(|s| presigned(s, &"a".repeat(64)))
            .collect();
        unsigned[0] = unsigned[0].replace("X-Amz-Signature", "Nope");
        assert!(BlobUrls::compact(&unsigned).is_err());
    }
}
