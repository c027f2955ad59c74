//! Sharing a notebook, for the CLI and the app: this account's identity,
//! share (invite), the invitations waiting for me, accept and decline,
//! members, unshare (remove, with a new epoch) and leave
//! (docs/sharing.md).
//!
//! Every operation first brings the space's chain up to date
//! ([`Sharing::refresh`]): the records the service holds beyond what this
//! device verified are fetched, the whole chain is verified again with the
//! pins, this account's identity and the checkpoint, and only then kept
//! in the store with the epoch keys this account can open. A record is
//! appended on top of the newest verified one; when another landed there
//! first (`record_conflict`), the chain is read again and the record signed
//! anew.
//!
//! An invitation is named by its space's id (an account has at most one
//! pending invitation per space).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use cairn_core::error::CoreError;
use cairn_core::space::author::{self, AuthorError};
use cairn_core::space::chain::{ChainError, Departure, SpaceState, Verifier};
use cairn_core::space::epoch::{Epoch, EpochKey, SpaceId};
use cairn_core::space::identity::{PublicIdentity, SharingIdentity};
use cairn_core::space::label::{self, Label, LabelError};
use cairn_core::space::local::{LocalSpace, Standing};
use cairn_core::space::pending::PendingSpace;
use cairn_core::space::pins::{KeyChange, PinError, PinStore};
use cairn_core::space::record::{Fence, FencedHead, HeadFence, Record, Role};
use cairn_core::space::rotation::{self, RotationError};
use cairn_core::space::safety_number::{fingerprint, matches_fingerprint, safety_number};
use cairn_core::space::successor::Successor;
use cairn_core::sync::object::{self, ObjectKind};
use cairn_core::sync::opener::{PeerAccess, SpacePeer, SpaceSync, SpaceWriting};
use cairn_core::sync::Fetched;
use cairn_core::{NewNotebook, Store};
use cairn_protocol::{DeviceId, DeviceKey, ErrorCode, SpaceGrant, UserId};

use crate::bucket::Bucket;
use crate::encryption::{load_account_keys, KeyError};
use crate::sharing_identity::{my_identity, rotate_sharing_identity, Handover, IdentityFetchError};
use crate::spaces::wire_space_id;
use crate::{ClientError, Session};

/// How many times a record is signed again after another landed first.
const APPEND_ATTEMPTS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    #[error(
        "sharing needs this account's notes to be end-to-end encrypted; set up encryption first"
    )]
    NotEncrypted,
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Service(#[from] ClientError),
    #[error(transparent)]
    Identity(#[from] IdentityFetchError),
    /// A sentence whatever the store said (its SQL stays in the source,
    /// for the log).
    #[error("{}", store_sentence(.0))]
    Store(#[from] CoreError),
    #[error("the shared notebook's membership cannot be trusted: {0}")]
    Chain(#[from] ChainError),
    #[error("{0}")]
    Author(#[from] AuthorError),
    #[error("{0}")]
    Rotation(#[from] RotationError),
    #[error("{0}")]
    Pin(#[from] PinError),
    #[error("{0}")]
    Label(#[from] LabelError),
    #[error("the shared notebook's storage could not be read: {0}")]
    Storage(#[from] cairn_core::sync::TransportError),
    #[error("the safety number of {account} is {actual}, not the {expected} you gave: check it with them before you share")]
    FingerprintMismatch {
        account: UserId,
        expected: String,
        actual: String,
    },
    #[error("there is no invitation {0} for you")]
    NoInvitation(String),
    #[error("the notebook {0} is not shared")]
    NotShared(String),
    #[error("this notebook is inside a shared notebook already: share or manage that one")]
    InsideShared,
    #[error(
        "a notebook inside this one is shared already: a shared notebook cannot contain another"
    )]
    ContainsShared,
    #[error("only the owner of a shared notebook can do that")]
    NotOwner,
    #[error("the shared notebook's owner is missing from its members; it cannot be trusted")]
    OwnerMissing,
    #[error("the shared notebook changed too often while this was being done; try again")]
    Busy,
    #[error("this device is not signed in")]
    NotSignedIn,
    #[error("the store is unusable after an earlier failure; restart Cairn")]
    Poisoned,
}

fn store_sentence(e: &CoreError) -> String {
    match e {
        CoreError::Database { .. } => {
            "this device could not read or keep a shared notebook's state".to_owned()
        }
        other => other.to_string(),
    }
}

/// The invitations waiting for this account: those that could be
/// verified, and, apart, those that could not (each with why), so one bad
/// invitation does not hide the others.
#[derive(Debug, Default)]
pub struct Invitations {
    pub pending: Vec<InvitationInfo>,
    pub unreadable: Vec<(String, ShareError)>,
}

/// An invitation just made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invited {
    /// What the invitee accepts or declines.
    pub id: String,
    /// The invitee's fingerprint, as the service handed their identity.
    pub fingerprint: String,
    /// The safety number of the owner's and the invitee's identities.
    pub safety_number: String,
}

/// Someone about to be invited, as the service hands their identity: what
/// the owner compares with them before the invitation goes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitee {
    pub account: UserId,
    pub fingerprint: String,
    /// The safety number of the owner's and the invitee's identities.
    pub safety_number: String,
}

/// This account's identity, for people to compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityInfo {
    pub account: UserId,
    pub fingerprint: String,
}

/// An invitation waiting for this account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationInfo {
    /// What accept and decline take.
    pub id: String,
    /// The notebook's name, as the owner sealed it (none if they did not).
    pub notebook: Option<String>,
    pub from: UserId,
    pub role: Role,
    /// The owner's fingerprint, to compare with them.
    pub from_fingerprint: String,
    /// The safety number of the owner's and this account's identities:
    /// the same the owner was shown before inviting.
    pub safety_number: String,
}

/// One person in a shared notebook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    pub account: UserId,
    pub role: Role,
    /// Invited, not yet accepted.
    pub pending: bool,
    pub fingerprint: String,
    /// Their key changed, and the key pinned before vouched for the new
    /// one (a device of theirs was removed): a sentence, not a warning.
    pub key_change: Option<KeyChange>,
}

/// One of this account's spaces as a sync found it.
#[derive(Debug)]
pub enum SpaceOutcome {
    Ready(Box<Refreshed>),
    /// Its chain, keys or store state could not be brought up to date.
    Failed(SpaceId, ShareError),
    /// The service listed an id that is not a space id.
    Unnamed(ShareError),
}

/// A space brought up to date: what the store keeps, and the verified
/// state.
#[derive(Debug, Clone)]
pub struct Refreshed {
    pub local: LocalSpace,
    pub state: SpaceState,
}

/// The sharing operations of one signed-in device.
pub struct Sharing {
    session: Arc<Session>,
    store: Arc<Mutex<Store>>,
    me: SharingIdentity,
    /// The identity `me` replaced, while shared notebooks may still hold
    /// it: each one's refresh hands it over with a rekey record.
    handover: Option<Handover>,
    device: DeviceId,
}

impl Sharing {
    /// Opens (or, for the account's first device that shares, makes) this
    /// account's sharing identity with the content key in `data_dir`.
    pub async fn open(
        data_dir: &Path,
        session: Arc<Session>,
        store: Arc<Mutex<Store>>,
    ) -> Result<Sharing, ShareError> {
        let device = session.device_id().ok_or(ShareError::NotSignedIn)?;
        let keys = load_account_keys(data_dir)?.ok_or(ShareError::NotEncrypted)?;
        // A device was removed and the identity it held is still the
        // account's (the removal's own rotation was cut off): replace it
        // now. One read of the service when there is nothing to do.
        rotate_sharing_identity(&session, &keys).await?;
        let mine = my_identity(&session, &keys).await?;
        Ok(Sharing {
            session,
            store,
            me: mine.current,
            handover: mine.handover,
            device,
        })
    }

    fn store(&self) -> Result<MutexGuard<'_, Store>, ShareError> {
        self.store.lock().map_err(|_| ShareError::Poisoned)
    }

    pub fn me(&self) -> &SharingIdentity {
        &self.me
    }

    /// This account's id and fingerprint.
    pub fn identity(&self) -> IdentityInfo {
        IdentityInfo {
            account: self.me.account().clone(),
            fingerprint: fingerprint(&self.me.public()),
        }
    }

    /// Fetches, verifies and keeps the space's chain, with the keys this
    /// account can open; the owner also starts the new epoch a member's
    /// leaving calls for.
    pub async fn refresh(&self, space: &SpaceId) -> Result<Refreshed, ShareError> {
        loop {
            let refreshed = self.refresh_once(space).await?;
            // This account's identity was replaced (a device removed) and
            // the chain still holds the previous one: hand it over, signed
            // by the previous key, before anything else is signed here.
            if let Some(h) = &self.handover {
                let held = refreshed
                    .state
                    .members
                    .get(self.me.account())
                    .map(|m| &m.identity)
                    .or_else(|| {
                        refreshed
                            .state
                            .invitations
                            .get(self.me.account())
                            .map(|i| &i.invitee)
                    });
                if held == Some(&h.previous.public()) {
                    let record = author::rekey(&refreshed.state, &h.previous, &h.successor)?;
                    self.append(&record).await?;
                    continue;
                }
            }
            let owner_must_rotate =
                refreshed.state.rotation_due && refreshed.state.owner == *self.me.account();
            if !owner_must_rotate {
                return Ok(refreshed);
            }
            // The new key comes back with the next refresh, from the wrap
            // to this owner in the record; a record that lost the race is
            // signed again on the newer chain.
            // Those who left are fenced at their heads as this owner
            // reads them now (their own leave record's fence is their
            // word only).
            let key = self.current_key(&refreshed)?;
            let mut fenced = BTreeMap::new();
            for who in refreshed.state.awaiting_fence() {
                let heads = self.heads_of(space, &who).await?;
                fenced.insert(who, heads);
            }
            let new = rotation::rotate(&refreshed.state, &self.me, &key, fenced)?;
            self.append(&new.record).await?;
        }
    }

    async fn refresh_once(&self, space: &SpaceId) -> Result<Refreshed, ShareError> {
        let (known, stored) = {
            let store = self.store()?;
            (store.local_space(space)?, store.local_space_records(space)?)
        };
        let token = self.session.access_token().await?;
        let after = stored.last().map(|r| r.body.seq);
        let fresh = self
            .session
            .client()
            .space_records(&token, &wire_space_id(space)?, after)
            .await?;
        let mut records = stored;
        records.extend(fresh);
        let mut store = self.store()?;
        let mut pins = store.sharing_pins()?;
        let mine = self.me.public();
        let previous = self.handover.as_ref().map(|h| h.previous.public());
        let state = SpaceState::verify(
            *space,
            &records,
            Verifier {
                pins: Some(&pins),
                me: Some(&mine),
                checkpoint: known.as_ref().map(|k| k.checkpoint),
                my_previous: previous.as_ref(),
            },
        )?;
        let label = known.as_ref().and_then(|k| k.label.clone());
        let mut notebook = known.as_ref().and_then(|k| k.notebook.clone());
        let mut local = LocalSpace::from_state(&state, self.me.account(), notebook.clone(), label);
        // A space is bound to its notebook once this account is a member,
        // never before: the id derives from the space's, so no label can
        // make it name a notebook of this account's own.
        if local.standing == Standing::Member && notebook.is_none() {
            notebook = Some(label::notebook_id(space));
            local.notebook = notebook;
        }
        store.save_local_space(&local, &records)?;
        if local.standing == Standing::Member {
            // Agreed to by being a member: everyone in the chain is pinned
            // (verify checked them against the pins already).
            for m in state.members.values() {
                pin_member(&mut pins, &state, &m.identity, self.me.account())?;
            }
            store.save_sharing_pins(&pins)?;
        }
        if local.standing != Standing::Departed {
            let held = store.epoch_keys(space)?;
            for e in 1..=state.epoch.0 {
                let epoch = Epoch(e);
                if !held.contains_key(&epoch) {
                    let key = state.key_of_epoch(&self.me, epoch)?;
                    store.save_epoch_key(space, epoch, &key)?;
                }
            }
        }
        Ok(Refreshed { local, state })
    }

    fn current_key(&self, r: &Refreshed) -> Result<EpochKey, ShareError> {
        match r.state.current_key(&self.me) {
            Ok(key) => Ok(key),
            // Wrapped to the identity this account had before (or by an
            // owner's previous key): the key kept here when it was opened.
            Err(e) => self
                .store()?
                .epoch_keys(&r.state.space)?
                .remove(&r.state.epoch)
                .ok_or(ShareError::Chain(e)),
        }
    }

    /// Appends `record`; false if another record landed first (the caller
    /// refreshes and signs again).
    async fn append(&self, record: &Record) -> Result<bool, ShareError> {
        let token = self.session.access_token().await?;
        match self.session.client().append_record(&token, record).await {
            Ok(_) => Ok(true),
            Err(e) if e.api_code() == Some(ErrorCode::RecordConflict) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Signs with `make` on the newest verified chain and appends, again
    /// on top of whatever landed first, until it lands.
    async fn append_on_top(
        &self,
        space: &SpaceId,
        make: impl Fn(&Refreshed) -> Result<Record, ShareError>,
    ) -> Result<Refreshed, ShareError> {
        self.append_only(space, make).await?;
        self.refresh(space).await
    }

    /// As [`Sharing::append_on_top`], without reading the chain after:
    /// for a record after which the service shows this account nothing
    /// more (a decline). Returns the state it was signed on, and the record.
    async fn append_only(
        &self,
        space: &SpaceId,
        make: impl Fn(&Refreshed) -> Result<Record, ShareError>,
    ) -> Result<(Refreshed, Record), ShareError> {
        for _ in 0..APPEND_ATTEMPTS {
            let r = self.refresh(space).await?;
            let record = make(&r)?;
            if self.append(&record).await? {
                return Ok((r, record));
            }
        }
        Err(ShareError::Busy)
    }

    /// The space `notebook` is shared in, refreshed. `notebook` is a
    /// notebook's id or path, or the shared notebook's invitation id (for
    /// a member whose copy of the notebook has not arrived yet).
    async fn space_of(&self, notebook: &str) -> Result<Refreshed, ShareError> {
        let space = {
            let store = self.store()?;
            match SpaceId::parse(notebook.trim()) {
                Ok(space) if store.local_space(&space)?.is_some() => Some(space),
                _ => {
                    let id = store.find_notebook(notebook)?;
                    store.space_of_notebook(&id)?
                }
            }
        };
        let space = space.ok_or_else(|| ShareError::NotShared(notebook.to_owned()))?;
        self.refresh(&space).await
    }

    /// The first step of an invitation, before anything is sent: the
    /// invitee's identity as the service hands it, checked against the
    /// pin (a key other than the one pinned is [`PinError::KeyChanged`],
    /// never accepted), with their fingerprint and the pair's safety
    /// number to compare. Nothing is pinned yet: [`Sharing::share`] pins,
    /// given the fingerprint shown here.
    pub async fn check_invitee(&self, invitee: &UserId) -> Result<Invitee, ShareError> {
        let (theirs, _) = self.pinned_identity(invitee).await?;
        Ok(Invitee {
            account: invitee.clone(),
            fingerprint: fingerprint(&theirs),
            safety_number: safety_number(&self.me.public(), &theirs),
        })
    }

    /// `account`'s identity as the service hands it, refused if it is not
    /// the one pinned for them and no chain of successor statements from
    /// the pinned key leads to it (nothing is pinned here).
    async fn pinned_identity(
        &self,
        account: &UserId,
    ) -> Result<(PublicIdentity, Vec<Successor>), ShareError> {
        let token = self.session.access_token().await?;
        let (theirs, statements) = self
            .session
            .client()
            .public_identity_vouched(&token, account)
            .await?;
        let mut pins = self.store()?.sharing_pins()?;
        if pins.check(&theirs).is_err() {
            pins.follow(&theirs, &statements)?;
        }
        Ok((theirs, statements))
    }

    /// Shares `notebook` with `invitee` as `role`: creates its space if it
    /// has none, fetches and pins the invitee's identity (checking it
    /// against `expected_fingerprint` if given), and appends the
    /// invitation. Returns the invitation's id, with the invitee's
    /// fingerprint and the pair's safety number to compare.
    pub async fn share(
        &self,
        notebook: &str,
        invitee: &UserId,
        role: Role,
        expected_fingerprint: Option<&str>,
    ) -> Result<Invited, ShareError> {
        // A share cut off before may have made this notebook's space on
        // the service already: that one is kept first, not a second made.
        if let Some((_, e)) = self.finish_pending().await?.into_iter().next() {
            return Err(e);
        }
        let (notebook_id, name, existing) = {
            let store = self.store()?;
            let id = store.find_notebook(notebook)?;
            let name = store.notebook(&id)?.name;
            let existing = store.space_of_notebook(&id)?;
            if existing.is_none() && store.space_below(&id)?.is_some() {
                return Err(ShareError::ContainsShared);
            }
            (id, name, existing)
        };
        // Their identity first: a fingerprint that does not match, or a
        // key other than the one pinned, stops the share before the
        // notebook is shared or anything is sent.
        let (theirs, statements) = self.pinned_identity(invitee).await?;
        if let Some(expected) = expected_fingerprint {
            if !matches_fingerprint(&theirs, expected) {
                return Err(ShareError::FingerprintMismatch {
                    account: invitee.clone(),
                    expected: expected.to_owned(),
                    actual: fingerprint(&theirs),
                });
            }
        }
        {
            let mut store = self.store()?;
            let mut pins = store.sharing_pins()?;
            pins.follow(&theirs, &statements)?;
            store.save_sharing_pins(&pins)?;
        }
        let space = match existing {
            Some(space) => {
                let r = self.refresh(&space).await?;
                if r.local.notebook.as_deref() != Some(notebook_id.as_str()) {
                    return Err(ShareError::InsideShared);
                }
                if r.state.owner != *self.me.account() {
                    return Err(ShareError::NotOwner);
                }
                space
            }
            None => self.create(&notebook_id).await?,
        };
        self.set_label(&space, &label::notebook_id(&space), &name)
            .await?;
        self.append_on_top(&space, |r| {
            let key = self.current_key(r)?;
            Ok(author::invite(&r.state, &self.me, &key, &theirs, role)?)
        })
        .await?;
        Ok(Invited {
            id: space.to_string(),
            fingerprint: fingerprint(&theirs),
            safety_number: safety_number(&self.me.public(), &theirs),
        })
    }

    /// A new space for `notebook`, kept here with its first key; the
    /// notebook takes the id the space derives (what every member's
    /// device checks the label against).
    async fn create(&self, notebook: &str) -> Result<SpaceId, ShareError> {
        let pending = self.begin_space(notebook).await?;
        self.keep_created(&pending)?;
        Ok(pending.space())
    }

    /// The first step of creating a space for `notebook`: its record 0 is
    /// kept here as pending, then the service stores it. Until
    /// [`Sharing::finish_pending`] (which every share and sync runs
    /// first) keeps it, the space is known here only as pending: a crash
    /// or a lost answer in between leaves nothing the next run cannot
    /// finish, and no invitation is made before it is kept.
    pub async fn begin_space(&self, notebook: &str) -> Result<PendingSpace, ShareError> {
        let new = author::create(&self.me)?;
        let pending = PendingSpace {
            notebook: notebook.to_owned(),
            genesis: new.record,
        };
        self.store()?.save_pending_space(&pending)?;
        self.create_on_service(&pending).await?;
        Ok(pending)
    }

    /// Asks the service to store `pending`'s record 0; `space_exists`
    /// means an earlier ask landed (its answer lost, or this device
    /// stopped before keeping the space), which the service's record 0
    /// being this very one confirms.
    async fn create_on_service(&self, pending: &PendingSpace) -> Result<(), ShareError> {
        let token = self.session.access_token().await?;
        let client = self.session.client();
        let e = match client.create_space(&token, &pending.genesis).await {
            Ok(_) => return Ok(()),
            Err(e) if e.api_code() == Some(ErrorCode::SpaceExists) => e,
            Err(e) => return Err(e.into()),
        };
        let wire = wire_space_id(&pending.space())?;
        let records = client.space_records(&token, &wire, None).await?;
        if records.first() == Some(&pending.genesis) {
            Ok(())
        } else {
            // Another space under the same random 128-bit id: not this
            // device's, and not one to keep.
            Err(e.into())
        }
    }

    /// The second step: the space created on the service is kept here
    /// with its first key (from the wrap to this owner in record 0), and
    /// the notebook takes the id the space derives. Each part can run
    /// again after a crash part way.
    fn keep_created(&self, pending: &PendingSpace) -> Result<(), ShareError> {
        let space = pending.space();
        let genesis = std::slice::from_ref(&pending.genesis);
        let state = SpaceState::verify(space, genesis, Verifier::default())?;
        let key = state.key_of_epoch(&self.me, Epoch::FIRST)?;
        let shared = label::notebook_id(&space);
        let mut store = self.store()?;
        if store.local_space(&space)?.is_none() {
            // Renumbered already by a run that stopped after it; or the
            // notebook was deleted meanwhile, and the space's own
            // notebook is made (empty) by the next sync.
            if store.notebook(&shared).is_err() && store.notebook(&pending.notebook).is_ok() {
                store.renumber_notebook(&pending.notebook, &shared)?;
            }
            let local = LocalSpace::from_state(&state, self.me.account(), Some(shared), None);
            store.save_local_space(&local, genesis)?;
            store.save_epoch_key(&space, Epoch::FIRST, &key)?;
            // The notebooks below the shared one travel with it.
            store.adopt_space_tree(&space)?;
        }
        store.drop_pending_space(&space)?;
        Ok(())
    }

    /// Finishes every creation of a space begun here and not kept (see
    /// [`Sharing::begin_space`]); those that cannot be finished now come
    /// back with why, and stay pending (a space the service refuses to
    /// have made is given up: it holds nothing).
    pub async fn finish_pending(&self) -> Result<Vec<(SpaceId, ShareError)>, ShareError> {
        let pending = self.store()?.pending_spaces()?;
        let mut failed = Vec::new();
        for p in pending {
            let space = p.space();
            let done = match self.create_on_service(&p).await {
                Ok(()) => self.keep_created(&p),
                Err(ShareError::Service(e))
                    if e.status() == Some(400) || e.api_code() == Some(ErrorCode::SpaceExists) =>
                {
                    // Refused (not stored, or another's under that id):
                    // nothing was shared, nothing to keep.
                    self.store()?.drop_pending_space(&space)?;
                    Err(ShareError::Service(e))
                }
                Err(e) => Err(e),
            };
            if let Err(e) = done {
                failed.push((space, e));
            }
        }
        Ok(failed)
    }

    /// Seals the notebook's id and name for invitees and hands it to the
    /// service.
    async fn set_label(
        &self,
        space: &SpaceId,
        notebook: &str,
        name: &str,
    ) -> Result<(), ShareError> {
        let r = self.refresh(space).await?;
        let key = self.current_key(&r)?;
        let label = Label {
            notebook: notebook.to_owned(),
            name: name.to_owned(),
        };
        let sealed = label::seal(space, r.state.epoch, &key, &label);
        let token = self.session.access_token().await?;
        self.session
            .client()
            .put_space_label(&token, &wire_space_id(space)?, &sealed)
            .await?;
        Ok(())
    }

    /// Opens an invitation's label and keeps the notebook's name with the
    /// space (the notebook it names is the space's own: `label::open`
    /// refuses any other).
    fn keep_label(&self, r: &Refreshed, sealed: &str) -> Result<Label, ShareError> {
        let space = &r.state.space;
        let bytes = cairn_protocol::RecordBytes(sealed.to_owned())
            .decode()
            .ok_or(LabelError::Damaged)?;
        let mut store = self.store()?;
        let keys: BTreeMap<Epoch, EpochKey> = store.epoch_keys(space)?;
        let label = label::open(space, &bytes, |e| keys.get(&e).cloned())?;
        let mut local = r.local.clone();
        local.label = Some(label.name.clone());
        store.save_local_space(&local, &[])?;
        Ok(label)
    }

    /// The invitations waiting for this account, each verified; one that
    /// cannot be is set apart with why, and the others go on.
    pub async fn invitations(&self) -> Result<Invitations, ShareError> {
        let token = self.session.access_token().await?;
        let mine = self.session.client().my_spaces(&token).await?;
        let mut out = Invitations::default();
        for inv in mine.invitations {
            let id = inv.space_id.as_str().to_owned();
            match self.invitation(&inv).await {
                Ok(Some(info)) => out.pending.push(info),
                Ok(None) => {}
                Err(e) => out.unreadable.push((id, e)),
            }
        }
        Ok(out)
    }

    /// One listed invitation, verified; `None` if it is no longer pending.
    async fn invitation(
        &self,
        inv: &cairn_protocol::InvitationSummary,
    ) -> Result<Option<InvitationInfo>, ShareError> {
        let space = SpaceId::parse(inv.space_id.as_str()).map_err(ChainError::from)?;
        let r = self.refresh(&space).await?;
        let Some(pending) = r.state.invitations.get(self.me.account()) else {
            return Ok(None);
        };
        // A label that does not open (or names another notebook) only
        // costs the invitation its name: accepting binds the space to its
        // own notebook whatever the label says.
        let label = inv
            .label
            .as_ref()
            .and_then(|sealed| self.keep_label(&r, sealed).ok());
        Ok(Some(InvitationInfo {
            id: space.to_string(),
            notebook: label.map(|l| l.name),
            from: r.state.owner.clone(),
            role: pending.role,
            from_fingerprint: fingerprint(owner_identity(&r.state)?),
            safety_number: safety_number(&self.me.public(), owner_identity(&r.state)?),
        }))
    }

    fn invitation_space(&self, id: &str) -> Result<SpaceId, ShareError> {
        SpaceId::parse(id.trim()).map_err(|_| ShareError::NoInvitation(id.to_owned()))
    }

    /// Accepts invitation `id`: this account becomes a member, pins the
    /// owner's identity and keeps the space's keys. The notebook itself
    /// arrives with the next sync.
    pub async fn accept(&self, id: &str) -> Result<Refreshed, ShareError> {
        let space = self.pending_invitation(id).await?;
        let joined = self
            .append_on_top(&space, |r| Ok(author::answer(&r.state, &self.me, true)?))
            .await?;
        self.ensure_notebook(&joined.local)?;
        Ok(joined)
    }

    /// Makes the space's notebook in this store's tree if it is not there
    /// (an invitee's first device, under the owner's id and name, so the
    /// notes that arrive land in it), and the space's tree with it.
    pub fn ensure_notebook(&self, local: &LocalSpace) -> Result<(), ShareError> {
        let Some(id) = &local.notebook else {
            return Ok(());
        };
        let mut store = self.store()?;
        if store.notebook(id).is_err() {
            let name = local
                .label
                .clone()
                .unwrap_or_else(|| "Shared notebook".to_owned());
            store.create_notebooks(&[NewNotebook {
                id: Some(id.clone()),
                name,
                parent: None,
            }])?;
        }
        // The space's tree (its notebooks, and the notebook's name as
        // the members keep it) is here, and holds what is below the
        // shared notebook on this device.
        store.adopt_space_tree(&local.space)?;
        Ok(())
    }

    /// This account's spaces as the service lists them (invitations
    /// aside), each refreshed and with its notebook known, or why it could
    /// not be: one bad space does not stop the others.
    pub async fn member_spaces(&self) -> Result<Vec<SpaceOutcome>, ShareError> {
        // A space whose creation was cut off is kept first; one that still
        // cannot be is not synced (that would bind it to a notebook of its
        // own, not the one being shared).
        let mut unfinished: BTreeMap<SpaceId, ShareError> =
            self.finish_pending().await?.into_iter().collect();
        let token = self.session.access_token().await?;
        let mine = self.session.client().my_spaces(&token).await?;
        let mut out = Vec::new();
        let mut listed = Vec::new();
        for s in mine.spaces {
            let space = match SpaceId::parse(s.space_id.as_str()) {
                Ok(space) => space,
                Err(e) => {
                    out.push(SpaceOutcome::Unnamed(ChainError::from(e).into()));
                    continue;
                }
            };
            listed.push(space);
            if let Some(e) = unfinished.remove(&space) {
                out.push(SpaceOutcome::Failed(space, e));
                continue;
            }
            out.push(match self.member_space(&space, s.label.as_deref()).await {
                Ok(r) => SpaceOutcome::Ready(Box::new(r)),
                Err(e) => SpaceOutcome::Failed(space, e),
            });
        }
        // A space this device still holds as a member but the service no
        // longer lists: this account was removed (or left from another
        // device). Its chain, read up to the record that ended the
        // membership, says so, and the store keeps this account departed.
        let held: Vec<SpaceId> = self
            .store()?
            .local_spaces()?
            .into_iter()
            .filter(|l| l.standing == Standing::Member && !listed.contains(&l.space))
            .map(|l| l.space)
            .collect();
        for space in held {
            out.push(match self.refresh(&space).await {
                Ok(r) => SpaceOutcome::Ready(Box::new(r)),
                Err(e) => SpaceOutcome::Failed(space, e),
            });
        }
        Ok(out)
    }

    async fn member_space(
        &self,
        space: &SpaceId,
        label: Option<&str>,
    ) -> Result<Refreshed, ShareError> {
        let mut r = self.refresh(space).await?;
        if r.local.label.is_none() {
            // Only the name is at stake here (the space is bound to its
            // own notebook already): one that does not open is left out.
            if let Some(sealed) = label {
                if self.keep_label(&r, sealed).is_ok() {
                    r = self.refresh(space).await?;
                }
            }
        }
        self.ensure_notebook(&r.local)?;
        Ok(r)
    }

    /// What a round of `r`'s space needs: who counts among its peers and
    /// the keys, and the grant to reach them. `None` when this device
    /// does not take part (not a member, or no notebook known yet).
    pub async fn round_context(
        &self,
        r: &Refreshed,
    ) -> Result<Option<(SpaceSync, SpaceGrant)>, ShareError> {
        let Some(notebook) = r.local.notebook.clone() else {
            return Ok(None);
        };
        if r.local.standing != Standing::Member {
            return Ok(None);
        }
        let space = r.state.space;
        let token = self.session.access_token().await?;
        let grant = self
            .session
            .client()
            .space_grant(&token, &wire_space_id(&space)?, &self.device)
            .await?;
        let peers = grant
            .peers
            .iter()
            .map(|p| {
                let access = if r.state.can_write(&p.user_id) {
                    PeerAccess::Writer
                } else if let Some(d) = r.state.departed.get(&p.user_id) {
                    departed_access(d, &p.device_id)
                } else {
                    PeerAccess::Ignored
                };
                (
                    p.device_id.as_str().to_owned(),
                    SpacePeer {
                        user: p.user_id.clone(),
                        access,
                    },
                )
            })
            .collect();
        // While a rotation is due (someone left or declined, holding the
        // current key) nothing new is sealed with that key: edits stay
        // here and go out under the next epoch, once the owner starts it
        // (the owner's own refresh has started it already).
        let writing = if r.local.writes() && !r.state.rotation_due {
            Some(SpaceWriting {
                epoch: r.state.epoch,
                key: self.current_key(r)?,
                identity: self.me.clone(),
            })
        } else {
            None
        };
        let keys = self.store()?.epoch_keys(&space)?;
        let sync = SpaceSync {
            space,
            user: self.me.account().clone(),
            device: self.device.clone(),
            notebook,
            writing,
            keys,
            peers,
            signers: r.state.signers(),
        };
        Ok(Some((sync, grant)))
    }

    /// Declines invitation `id`. The service shows a declined invitee
    /// nothing more of the space, so the chain is kept as it was signed on,
    /// with the decline.
    pub async fn decline(&self, id: &str) -> Result<(), ShareError> {
        let space = self.pending_invitation(id).await?;
        let (mut r, record) = self
            .append_only(&space, |r| Ok(author::answer(&r.state, &self.me, false)?))
            .await?;
        r.state.apply(&record, Verifier::default())?;
        let local =
            LocalSpace::from_state(&r.state, self.me.account(), r.local.notebook, r.local.label);
        self.store()?.save_local_space(&local, &[record])?;
        Ok(())
    }

    /// The space of invitation `id`, if it is pending for this account.
    async fn pending_invitation(&self, id: &str) -> Result<SpaceId, ShareError> {
        let space = self.invitation_space(id)?;
        let r = self.refresh(&space).await.map_err(|e| match e {
            ShareError::Service(c) if c.api_code() == Some(ErrorCode::NotSpaceMember) => {
                ShareError::NoInvitation(id.to_owned())
            }
            other => other,
        })?;
        if !r.state.invitations.contains_key(self.me.account()) {
            return Err(ShareError::NoInvitation(id.to_owned()));
        }
        // A label that does not open, or names a notebook other than the
        // space's own, refuses the invitation: its owner forged it.
        if r.local.label.is_none() {
            let token = self.session.access_token().await?;
            let mine = self.session.client().my_spaces(&token).await?;
            let sealed = mine
                .invitations
                .iter()
                .find(|i| i.space_id.as_str() == space.to_string())
                .and_then(|i| i.label.clone());
            if let Some(sealed) = sealed {
                self.keep_label(&r, &sealed)?;
            }
        }
        Ok(space)
    }

    /// Everyone in the shared notebook `notebook` and everyone invited.
    pub async fn members(&self, notebook: &str) -> Result<Vec<MemberInfo>, ShareError> {
        let r = self.space_of(notebook).await?;
        let pins = self.store()?.sharing_pins()?;
        Ok(members_of(&r.state, Some(&pins)))
    }

    /// The owner removes `member` from the shared notebook: their grant
    /// ends at once, their devices are fenced at what the service saw last
    /// from each, and a new epoch starts whose key only the others get.
    pub async fn unshare(&self, notebook: &str, member: &UserId) -> Result<(), ShareError> {
        let r = self.space_of(notebook).await?;
        if r.state.owner != *self.me.account() {
            return Err(ShareError::NotOwner);
        }
        let space = r.state.space;
        let fence = self.fence_of(&space, member).await?;
        let heads = self.heads_of(&space, member).await?;
        // The new epoch's key is kept by the refresh after the append,
        // from the wrap to this owner in the record.
        self.append_on_top(&space, |r| {
            let key = self.current_key(r)?;
            let new = rotation::remove_member(
                &r.state,
                &self.me,
                &key,
                member,
                fence.clone(),
                heads.clone(),
            )?;
            Ok(new.record)
        })
        .await
        .map(|_| ())
    }

    /// This member leaves the shared notebook, fenced at what the service
    /// saw last from each of their devices; the owner then starts a new
    /// epoch.
    pub async fn leave(&self, notebook: &str) -> Result<(), ShareError> {
        let r = self.space_of(notebook).await?;
        let space = r.state.space;
        let fence = self.fence_of(&space, self.me.account()).await?;
        self.append_on_top(&space, |r| {
            Ok(author::leave(&r.state, &self.me, fence.clone())?)
        })
        .await
        .map(|_| ())
    }

    /// This device's space grant for `space`.
    async fn own_grant(&self, space: &SpaceId) -> Result<SpaceGrant, ShareError> {
        let token = self.session.access_token().await?;
        Ok(self
            .session
            .client()
            .space_grant(&token, &wire_space_id(space)?, &self.device)
            .await?)
    }

    /// Each of `member`'s devices that has a head in the space, with that
    /// head's sequence number and the SHA-256 of its bytes, as read from
    /// the bucket now: what the record that ends their writes pins.
    async fn heads_of(&self, space: &SpaceId, member: &UserId) -> Result<HeadFence, ShareError> {
        let grant = self.own_grant(space).await?;
        let bucket = Bucket::new()?;
        let mut heads = HeadFence::new();
        for p in grant.peers.iter().filter(|p| p.user_id == *member) {
            let device = p.device_id.as_str();
            if let Fetched::Found { body, .. } =
                bucket.get(&grant, device, DeviceKey::Head, None).await?
            {
                // A head that does not even decode is pinned all the same:
                // it is what the device wrote, and it reads as nothing.
                let seq = object::decode_kind(&body, ObjectKind::Head).map_or(0, |o| o.seq);
                heads.insert(
                    p.device_id.clone(),
                    FencedHead {
                        seq,
                        head: object::sha256(&body),
                    },
                );
            }
        }
        Ok(heads)
    }

    /// Each of `member`'s devices and the newest head the service saw from
    /// it in the space (0 for one it saw nothing from), from this device's
    /// space grant (this device's own among them).
    async fn fence_of(&self, space: &SpaceId, member: &UserId) -> Result<Fence, ShareError> {
        let grant = self.own_grant(space).await?;
        let mut fence: Fence = grant
            .peers
            .iter()
            .filter(|p| p.user_id == *member)
            .map(|p| (p.device_id.clone(), p.published_seq.unwrap_or(0)))
            .collect();
        if *member == *self.me.account() {
            fence.insert(self.device.clone(), grant.published_seq.unwrap_or(0));
        }
        Ok(fence)
    }
}

/// The owner's identity; a chain without its owner among the members is
/// refused rather than trusted.
fn owner_identity(state: &SpaceState) -> Result<&PublicIdentity, ShareError> {
    state
        .members
        .get(&state.owner)
        .map(|m| &m.identity)
        .ok_or(ShareError::OwnerMissing)
}

/// How a departed member's device is read: only at the heads the owner
/// pinned; under a record from before pinning, up to its fence; not at
/// all while a leave awaits the owner's pin.
fn departed_access(d: &Departure, device: &DeviceId) -> PeerAccess {
    match &d.heads {
        Some(heads) => heads
            .get(device)
            .map_or(PeerAccess::Ignored, |h| PeerAccess::FencedHead {
                seq: h.seq,
                hash: h.head,
            }),
        None if d.awaiting_fence => PeerAccess::Ignored,
        None => PeerAccess::FencedAt(d.fence.get(device).copied().unwrap_or(0)),
    }
}

/// Members first (the owner, then by account), then pending invitees.
/// Pins a member of a space this account is in: on first use, as pinned,
/// or (when a rekey record in the chain replaced the key pinned here,
/// which vouched for the next) moved to their new key with the change
/// kept. This account's own key is whatever it is now.
fn pin_member(
    pins: &mut PinStore,
    state: &SpaceState,
    id: &PublicIdentity,
    me: &UserId,
) -> Result<(), ShareError> {
    if id.account == *me {
        if pins.check(id).is_err() {
            pins.repin(id);
        }
        return Ok(());
    }
    let replaced = state.replaced.get(&id.account);
    match pins.get(&id.account).cloned() {
        Some(pinned) if pinned != *id && replaced.is_some_and(|r| r.contains(&pinned)) => {
            pins.repin_vouched(id, &pinned)?;
        }
        _ => {
            pins.check_or_pin(id)?;
        }
    }
    Ok(())
}

pub(crate) fn members_of(state: &SpaceState, pins: Option<&PinStore>) -> Vec<MemberInfo> {
    let member = |id: &PublicIdentity, role: Role, pending: bool| MemberInfo {
        account: id.account.clone(),
        role,
        pending,
        fingerprint: fingerprint(id),
        key_change: pins
            .filter(|p| p.get(&id.account) == Some(id))
            .and_then(|p| p.change_of(&id.account).cloned()),
    };
    let mut out: Vec<MemberInfo> = state
        .members
        .values()
        .map(|m| member(&m.identity, m.role, false))
        .collect();
    out.sort_by_key(|m| (m.role != Role::Owner, m.account.clone()));
    out.extend(
        state
            .invitations
            .values()
            .map(|i| member(&i.invitee, i.role, true)),
    );
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests fail loudly by design
    use super::*;

    #[test]
    fn a_state_without_its_owner_is_a_typed_error_not_a_panic() {
        let me = SharingIdentity::generate(UserId::new("key", "alice").unwrap());
        let new = author::create(&me).unwrap();
        let mut state = SpaceState::verify(
            new.record.body.space,
            std::slice::from_ref(&new.record),
            Verifier::default(),
        )
        .unwrap();
        assert_eq!(owner_identity(&state).unwrap(), &me.public());
        state.members.clear();
        assert!(matches!(
            owner_identity(&state),
            Err(ShareError::OwnerMissing)
        ));
        assert!(ShareError::OwnerMissing
            .to_string()
            .contains("owner is missing"));
    }
}
