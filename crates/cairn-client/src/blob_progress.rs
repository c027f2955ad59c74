//! How far the attachment transfers of a round have got, for a UI to show
//! while they run: the bytes still to move, updated after every slot
//! uploaded and every range stored (a round's report comes only at its
//! end, which for a large file is a long time to show nothing).

use serde::Serialize;
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BlobProgress {
    /// Bytes of attachments still to upload or download.
    pub bytes_remaining: u64,
    /// Whether transfers are running now (false once the pass ended,
    /// whatever is left for the next one).
    pub moving: bool,
}

/// The sending side, kept by the sync agent; cheap to clone.
#[derive(Debug, Clone)]
pub struct ProgressSender(std::sync::Arc<watch::Sender<BlobProgress>>);

impl Default for ProgressSender {
    fn default() -> Self {
        ProgressSender(std::sync::Arc::new(
            watch::channel(BlobProgress::default()).0,
        ))
    }
}

impl ProgressSender {
    pub fn subscribe(&self) -> watch::Receiver<BlobProgress> {
        self.0.subscribe()
    }

    /// A pass starts with this much to move.
    pub fn start(&self, bytes_remaining: u64) {
        self.0.send_replace(BlobProgress {
            bytes_remaining,
            moving: bytes_remaining > 0,
        });
    }

    /// `bytes` more have moved.
    pub fn moved(&self, bytes: u64) {
        self.0
            .send_modify(|p| p.bytes_remaining = p.bytes_remaining.saturating_sub(bytes));
    }

    /// The pass failed: transfers stopped, the count stays as it was.
    pub fn stop(&self) {
        self.0.send_modify(|p| p.moving = false);
    }

    /// The pass ended with this much left (counted afresh by the store).
    pub fn finish(&self, bytes_remaining: u64) {
        self.0.send_replace(BlobProgress {
            bytes_remaining,
            moving: false,
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn counts_down_and_says_when_the_pass_ended() {
        let p = ProgressSender::default();
        let rx = p.subscribe();
        p.start(10);
        assert_eq!(
            *rx.borrow(),
            BlobProgress {
                bytes_remaining: 10,
                moving: true
            }
        );
        p.moved(4);
        p.moved(100);
        assert_eq!(rx.borrow().bytes_remaining, 0);
        p.finish(3);
        assert_eq!(
            *rx.borrow(),
            BlobProgress {
                bytes_remaining: 3,
                moving: false
            }
        );
        p.start(0);
        assert!(!rx.borrow().moving);
    }
}
