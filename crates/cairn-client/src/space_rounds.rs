//! A device's rounds in its shared spaces, after the personal one
//! (docs/sharing.md, "Sync through spaces"): for each space this account
//! is a member of, the chain brought up to date and verified, the space's
//! grant, and one round of the core's engine over it, then "I published
//! seq N there" so the other members' devices read it at once.
//!
//! An account that never shared and was never invited makes no sharing
//! identity here: the spaces are looked up first, and the identity is
//! opened (or made) only when there is one.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use cairn_core::space::epoch::SpaceId;
use cairn_core::space::local::Standing;
use cairn_core::sync::opener::SpaceSync;
use cairn_core::sync::RoundReport;
use cairn_core::Store;

use crate::blob_runner::{BlobOptions, BlobReport};
use crate::bucket::Bucket;
use crate::round_runner::{self, RunnerError};
use crate::sharing::{ShareError, Sharing, SpaceOutcome};
use crate::space_blobs;
use crate::spaces::wire_space_id;
use crate::Session;

#[derive(Debug, thiserror::Error)]
pub enum SpaceRoundError {
    #[error(transparent)]
    Share(#[from] ShareError),
    #[error(transparent)]
    Runner(#[from] RunnerError),
}

/// One space's round, or why it did not run.
#[derive(Debug)]
pub struct SpaceRound {
    pub space: SpaceId,
    pub result: Result<RoundReport, SpaceRoundError>,
}

pub struct SpaceRounds {
    data_dir: PathBuf,
    sharing: Option<Sharing>,
    /// The personal epoch `sharing` was opened at: a newer one (a device
    /// was removed, and this one took the new key) may come with a new
    /// sharing identity, so it is opened again.
    opened_at: Option<u64>,
    /// Each space's stream as its last round saw it (members, roles, keys,
    /// whether this device writes): what the live lane seals and opens
    /// with. A space whose round did not run (no longer a member, its grant
    /// refused) is not here, so nothing goes out or comes in live there.
    live: BTreeMap<SpaceId, SpaceSync>,
}

impl SpaceRounds {
    pub fn new(data_dir: PathBuf) -> SpaceRounds {
        SpaceRounds {
            data_dir,
            sharing: None,
            opened_at: None,
            live: BTreeMap::new(),
        }
    }

    /// The spaces the live lane runs in, as their last rounds saw them.
    pub fn live(&self) -> &BTreeMap<SpaceId, SpaceSync> {
        &self.live
    }

    async fn sharing(
        &mut self,
        session: &Arc<Session>,
        store: &Arc<Mutex<Store>>,
    ) -> Result<&Sharing, ShareError> {
        let epoch = crate::encryption::load_account_keys(&self.data_dir)?.map(|k| k.epoch().0);
        if self.sharing.is_none() || self.opened_at != epoch {
            let opened = Sharing::open(&self.data_dir, session.clone(), store.clone()).await?;
            self.sharing = Some(opened);
            self.opened_at = epoch;
        }
        self.sharing.as_ref().ok_or(ShareError::NotSignedIn)
    }

    /// A round in every space this account is a member of (`only`: in that
    /// one alone). A failure to list the spaces is the whole answer's.
    pub async fn run(
        &mut self,
        session: &Arc<Session>,
        store: &Arc<Mutex<Store>>,
        bucket: &Bucket,
        only: Option<&SpaceId>,
    ) -> Result<Vec<SpaceRound>, ShareError> {
        let known_here = store
            .lock()
            .map_err(|_| ShareError::Poisoned)?
            .local_spaces()?
            .iter()
            .any(|s| s.standing == Standing::Member);
        let listed = match session.access_token().await {
            Ok(token) => session.client().my_spaces(&token).await,
            Err(e) => Err(e),
        };
        let listed = match listed {
            Ok(listed) => listed,
            // The service is out of reach (the personal round may go on
            // through storage): for a device in no shared notebook that
            // is nothing to say.
            Err(_) if !known_here => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        if listed.spaces.is_empty() && self.sharing.is_none() && !known_here {
            self.live.clear();
            return Ok(Vec::new());
        }
        if only.is_none() {
            // Rebuilt from this pass's rounds: a space left or lost goes.
            self.live.clear();
        } else if let Some(o) = only {
            self.live.remove(o);
        }
        self.sharing(session, store).await?;
        let sharing = self.sharing.as_ref().ok_or(ShareError::NotSignedIn)?;
        let live = &mut self.live;
        let mut out = Vec::new();
        for found in sharing.member_spaces().await? {
            // A space that could not be brought up to date is reported
            // on its own; the others go on.
            let r = match found {
                SpaceOutcome::Ready(r) => r,
                SpaceOutcome::Failed(space, e) => {
                    if only.is_none_or(|o| *o == space) {
                        out.push(SpaceRound {
                            space,
                            result: Err(e.into()),
                        });
                    }
                    continue;
                }
                SpaceOutcome::Unnamed(e) => {
                    eprintln!("warning: a shared notebook did not sync: {e}");
                    continue;
                }
            };
            let space = r.state.space;
            if only.is_some_and(|o| *o != space) {
                continue;
            }
            let result = match Self::one(sharing, store, bucket, r.as_ref()).await {
                Ok(Some((sync, report))) => {
                    live.insert(space, sync);
                    Ok(Some(report))
                }
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            };
            if let Ok(Some(report)) = &result {
                for p in &report.peers {
                    if let Some(why) = &p.refused {
                        // Someone holding the notebook's key, with the
                        // storage, wrote a head in this member's place:
                        // ignored, and said here for whoever looks.
                        eprintln!(
                            "warning: a shared notebook's device {} was not read: {why}",
                            p.device
                        );
                    }
                }
            }
            if let Ok(Some(report)) = &result {
                if let Some(seq) = report.published {
                    // Best effort, as for the personal stream: the others
                    // also poll.
                    if let (Ok(token), Ok(wire)) =
                        (session.access_token().await, wire_space_id(&space))
                    {
                        if let Some(device) = session.device_id() {
                            if let Err(e) = session
                                .client()
                                .report_space_published(&token, &wire, &device, seq)
                                .await
                            {
                                eprintln!(
                                    "warning: could not notify a shared notebook's members: {e}"
                                );
                            }
                        }
                    }
                }
            }
            match result {
                Ok(None) => {}
                Ok(Some(report)) => out.push(SpaceRound {
                    space,
                    result: Ok(report),
                }),
                Err(e) => out.push(SpaceRound {
                    space,
                    result: Err(e),
                }),
            }
        }
        Ok(out)
    }

    async fn one(
        sharing: &Sharing,
        store: &Arc<Mutex<Store>>,
        bucket: &Bucket,
        r: &crate::sharing::Refreshed,
    ) -> Result<Option<(SpaceSync, RoundReport)>, SpaceRoundError> {
        let Some((sync, grant)) = sharing.round_context(r).await? else {
            return Ok(None);
        };
        // The attachments the space's notes name go up before the round
        // publishes the notes, and what members' notes name comes down
        // once the round merged them (`space_blobs`).
        let mut blobs = BlobReport::default();
        space_blobs::upload(store, bucket, &grant, &sync, &mut blobs)
            .await
            .map_err(RunnerError::from)?;
        let grant = Arc::new(grant);
        let report = round_runner::run_space_round(
            store.clone(),
            bucket.clone(),
            grant.clone(),
            sync.clone(),
        )
        .await?;
        space_blobs::download(
            store,
            bucket,
            &grant,
            &sync,
            BlobOptions::default(),
            &mut blobs,
        )
        .await
        .map_err(RunnerError::from)?;
        for e in &blobs.errors {
            eprintln!("warning: {e}");
        }
        Ok(Some((sync, report)))
    }
}
