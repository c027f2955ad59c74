//! Replaying a space's membership records into who is in it.
//!
//! ```text
//! 0 create  (owner, self-signed)      members: alice(owner)          epoch 1
//! 1 invite  bob as editor (alice)     invited: bob
//! 2 accept  1 (bob)                   members: alice, bob(editor)
//! 3 remove  bob, fence, epoch 2 (alice)  members: alice              epoch 2
//! ```
//!
//! Every record must name this space, the next sequence number and the
//! hash of the record before it, and be signed by the key the chain holds
//! for its signer (record 0 by the key it carries itself). The signer's
//! role must allow the action; every wrap must be the granter's, for the
//! right space, epoch, member and member key. Any of these failing refuses
//! the whole chain with an error naming the record, so a forged signer, a
//! substituted key, a replayed, dropped or reordered record is noticed
//! rather than applied.
//!
//! What the chain cannot show by itself (a record the service hides at the
//! end, an old chain served again, a key the service swapped before the
//! owner signed it) the verifying member checks with what they know: a
//! [`Checkpoint`] of the newest record they saw, their pins, and their own
//! identity.

use std::collections::{BTreeMap, HashSet};

use cairn_protocol::UserId;

use crate::space::epoch::{Epoch, EpochError, EpochKey, SpaceId};
use crate::space::identity::{PublicIdentity, SharingIdentity};
use crate::space::pins::{PinError, PinStore};
use crate::space::record::{Action, Fence, HeadFence, Record, Role, Rotation};
use crate::space::successor::{Successor, SuccessorError};
use crate::space::wrap::{KeyWrap, WrapError};
use crate::sync::signed_head::Signer;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("the space has no membership records")]
    Empty,
    #[error("membership record {seq} belongs to another space ({found})")]
    WrongSpace { seq: u64, found: SpaceId },
    #[error("membership record {found} came where record {expected} was due: one was dropped or reordered")]
    OutOfOrder { expected: u64, found: u64 },
    #[error("membership record {seq} was seen before: refusing a replayed record")]
    Replayed { seq: u64 },
    #[error(
        "membership record {seq} does not follow the record before it: the history was altered"
    )]
    BrokenChain { seq: u64 },
    #[error("membership record {seq} is signed by {signer}, who is not in the space")]
    UnknownSigner { seq: u64, signer: UserId },
    #[error("membership record {seq} does not carry a valid signature of {signer}")]
    BadSignature { seq: u64, signer: UserId },
    #[error("{signer} may not {action} in this space (record {seq})")]
    NotAllowed {
        seq: u64,
        signer: UserId,
        action: &'static str,
    },
    #[error("membership record {seq} is not valid: {reason}")]
    Invalid { seq: u64, reason: String },
    #[error("the key in membership record {seq} is not valid: {source}")]
    BadWrap {
        seq: u64,
        #[source]
        source: WrapError,
    },
    #[error(
        "membership record {seq} invites you with a key that is not yours: someone substituted it"
    )]
    NotMyKey { seq: u64 },
    #[error("membership record {seq}: {source}")]
    Pin {
        seq: u64,
        #[source]
        source: PinError,
    },
    #[error("the service showed {found} membership records where you have seen {seen}: a record was hidden or the history rolled back")]
    RolledBack { seen: u64, found: u64 },
    #[error(
        "membership record {seq} differs from the one you saw before: the history was rewritten"
    )]
    Forked { seq: u64 },
    #[error("you have no key for epoch {epoch} of this space")]
    NoKey { epoch: u64 },
    #[error("your account's sharing key was replaced on another of your devices (record {seq}): enter your passphrase on this device to keep sharing")]
    MyKeyReplaced { seq: u64 },
    #[error("membership record {seq} replaces a key without a valid statement from the previous one: {source}")]
    BadSuccessor {
        seq: u64,
        #[source]
        source: SuccessorError,
    },
    #[error("{0}")]
    Epoch(#[from] EpochError),
    #[error("{0}")]
    Wrap(#[from] WrapError),
}

/// The newest record a member has verified: a later chain must contain it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    pub seq: u64,
    #[serde(with = "hex::serde")]
    pub hash: [u8; 32],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub identity: PublicIdentity,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// The sequence number of the invite record: what accept names.
    pub seq: u64,
    pub invitee: PublicIdentity,
    pub role: Role,
}

/// A departed member: the fence past which their objects are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Departure {
    pub seq: u64,
    /// By sequence alone: what an owner's remove record said before heads
    /// were pinned (a leave's is kept but never trusted).
    pub fence: Fence,
    /// The heads the owner pinned (remove, or the rotate after a leave):
    /// when present, the only thing read from the member's devices.
    pub heads: Option<HeadFence>,
    /// Left by themselves, and no rotate has pinned their heads yet:
    /// nothing of theirs is read meanwhile.
    pub awaiting_fence: bool,
    /// Who they were while in the space, and as what (`None`: an invitee
    /// removed before accepting): their pinned heads were signed then,
    /// and are checked with this key.
    pub identity: PublicIdentity,
    pub role: Option<Role>,
}

/// What the checks take from the verifying member.
#[derive(Debug, Clone, Copy, Default)]
pub struct Verifier<'a> {
    /// Identities met in the chain must match these pins.
    pub pins: Option<&'a PinStore>,
    /// The verifying member: an invitation to their account must carry
    /// exactly their keys.
    pub me: Option<&'a PublicIdentity>,
    /// The newest record verified before.
    pub checkpoint: Option<Checkpoint>,
    /// The verifying member's previous identity, replaced on this device
    /// but not yet in this chain (its rekey record is still to be
    /// appended): the chain may still hold it for them.
    pub my_previous: Option<&'a PublicIdentity>,
}

/// Identities that did not pass the pins or `me` when met, by account:
/// forgiven only if a rekey signed by that very identity later moves the
/// account to one that passes (the pinned key, or this member's own).
/// That is how a chain started under a key since replaced still verifies
/// for someone who pinned the new one, while a key nobody vouched for
/// stays refused.
type Pending = BTreeMap<UserId, (PublicIdentity, ChainError)>;

/// A verified space: members, roles, pending invitations and the epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceState {
    pub space: SpaceId,
    pub owner: UserId,
    pub members: BTreeMap<UserId, Member>,
    /// Pending invitations, by invitee.
    pub invitations: BTreeMap<UserId, Invitation>,
    pub epoch: Epoch,
    /// Someone left and the owner has not yet started a new epoch.
    pub rotation_due: bool,
    pub departed: BTreeMap<UserId, Departure>,
    /// Each member's and invitee's wrap of the current epoch's key.
    pub wraps: BTreeMap<UserId, KeyWrap>,
    /// Per epoch after the first, the previous epoch's key sealed under it.
    pub previous: BTreeMap<Epoch, Vec<u8>>,
    /// Per account whose identity a rekey replaced, the identities the
    /// chain held for them before, oldest first: each vouched for the
    /// next (what a member shows as "key changed, vouched for").
    pub replaced: BTreeMap<UserId, Vec<PublicIdentity>>,
    pub last: Checkpoint,
    seen: HashSet<[u8; 32]>,
}

impl SpaceState {
    /// The next record of this chain, `action` signed by `signer`: the
    /// one after the last record verified, linked to its hash.
    pub(crate) fn next_record(&self, signer: &SharingIdentity, action: Action) -> Record {
        Record::sign(
            signer,
            self.space,
            self.last.seq + 1,
            self.last.hash,
            action,
        )
    }

    /// Verifies a whole chain, from record 0.
    pub fn verify(
        space: SpaceId,
        records: &[Record],
        v: Verifier<'_>,
    ) -> Result<SpaceState, ChainError> {
        let (first, rest) = records.split_first().ok_or(ChainError::Empty)?;
        let mut pending = Pending::new();
        let mut state = SpaceState::genesis(space, first, v, Some(&mut pending))?;
        for r in rest {
            if let Some(cp) = v.checkpoint {
                if r.body.seq == cp.seq && r.hash() != cp.hash {
                    return Err(ChainError::Forked { seq: cp.seq });
                }
            }
            state.apply_deferring(r, v, Some(&mut pending))?;
        }
        for (offered, error) in pending.into_values() {
            // This device replaced its identity and has yet to rekey this
            // space: the chain holding the previous one is expected.
            let mine_before =
                v.my_previous == Some(&offered) && matches!(error, ChainError::NotMyKey { .. });
            if !mine_before {
                return Err(error);
            }
        }
        if let Some(cp) = v.checkpoint {
            if state.last.seq < cp.seq {
                return Err(ChainError::RolledBack {
                    seen: cp.seq + 1,
                    found: state.last.seq + 1,
                });
            }
            if cp.seq == 0 && first.hash() != cp.hash {
                return Err(ChainError::Forked { seq: 0 });
            }
        }
        Ok(state)
    }

    fn genesis(
        space: SpaceId,
        r: &Record,
        v: Verifier<'_>,
        pending: Option<&mut Pending>,
    ) -> Result<SpaceState, ChainError> {
        let b = &r.body;
        if b.space != space {
            return Err(ChainError::WrongSpace {
                seq: b.seq,
                found: b.space,
            });
        }
        if b.seq != 0 {
            return Err(ChainError::OutOfOrder {
                expected: 0,
                found: b.seq,
            });
        }
        let Action::Create { owner, wrap } = &b.action else {
            return Err(ChainError::Invalid {
                seq: 0,
                reason: "the first record does not create the space".into(),
            });
        };
        if b.prev != [0; 32] {
            return Err(ChainError::BrokenChain { seq: 0 });
        }
        if owner.account != b.signer || !r.signed_by(owner) {
            return Err(ChainError::BadSignature {
                seq: 0,
                signer: b.signer.clone(),
            });
        }
        check_identity(0, owner, v, pending)?;
        check_wrap(0, wrap, space, Epoch::FIRST, owner, owner)?;
        let hash = r.hash();
        Ok(SpaceState {
            space,
            owner: owner.account.clone(),
            members: BTreeMap::from([(
                owner.account.clone(),
                Member {
                    identity: owner.clone(),
                    role: Role::Owner,
                },
            )]),
            invitations: BTreeMap::new(),
            epoch: Epoch::FIRST,
            rotation_due: false,
            departed: BTreeMap::new(),
            wraps: BTreeMap::from([(owner.account.clone(), wrap.clone())]),
            previous: BTreeMap::new(),
            replaced: BTreeMap::new(),
            last: Checkpoint { seq: 0, hash },
            seen: HashSet::from([hash]),
        })
    }

    /// Verifies and applies the next record. On error nothing changes.
    pub fn apply(&mut self, r: &Record, v: Verifier<'_>) -> Result<(), ChainError> {
        self.apply_deferring(r, v, None)
    }

    /// As [`SpaceState::apply`]; identity checks that fail go to `pending`
    /// when given (see [`Pending`]), else refuse the record.
    fn apply_deferring(
        &mut self,
        r: &Record,
        v: Verifier<'_>,
        mut pending: Option<&mut Pending>,
    ) -> Result<(), ChainError> {
        let b = &r.body;
        let seq = b.seq;
        let hash = r.hash();
        if self.seen.contains(&hash) {
            return Err(ChainError::Replayed { seq });
        }
        if b.space != self.space {
            return Err(ChainError::WrongSpace {
                seq,
                found: b.space,
            });
        }
        let expected = self.last.seq + 1;
        if seq != expected {
            return Err(ChainError::OutOfOrder {
                expected,
                found: seq,
            });
        }
        if b.prev != self.last.hash {
            return Err(ChainError::BrokenChain { seq });
        }
        let signer = self.signer_key(seq, &b.signer)?;
        if !r.signed_by(&signer) {
            return Err(ChainError::BadSignature {
                seq,
                signer: b.signer.clone(),
            });
        }
        let role = self.members.get(&b.signer).map(|m| m.role);
        let not_allowed = || ChainError::NotAllowed {
            seq,
            signer: b.signer.clone(),
            action: b.action.name(),
        };
        let invalid = |reason: &str| ChainError::Invalid {
            seq,
            reason: reason.into(),
        };
        let mut next = self.clone();
        match &b.action {
            Action::Create { .. } => return Err(not_allowed()),
            Action::Invite {
                invitee,
                role: invited_role,
                wrap,
            } => {
                if role != Some(Role::Owner) {
                    return Err(not_allowed());
                }
                if *invited_role == Role::Owner {
                    return Err(invalid("a space has one owner"));
                }
                if self.members.contains_key(&invitee.account)
                    || self.invitations.contains_key(&invitee.account)
                {
                    return Err(invalid("the invitee is already in the space or invited"));
                }
                if !invitee.keys_are_valid() {
                    return Err(invalid("the invitee's signing key is not usable"));
                }
                check_identity(seq, invitee, v, pending.as_deref_mut())?;
                check_wrap(seq, wrap, self.space, self.epoch, invitee, &signer)?;
                next.departed.remove(&invitee.account);
                next.wraps.insert(invitee.account.clone(), wrap.clone());
                next.invitations.insert(
                    invitee.account.clone(),
                    Invitation {
                        seq,
                        invitee: invitee.clone(),
                        role: *invited_role,
                    },
                );
            }
            Action::Accept { invitation } | Action::Decline { invitation } => {
                let Some(inv) = self.invitations.get(&b.signer) else {
                    return Err(not_allowed());
                };
                if inv.seq != *invitation {
                    return Err(invalid("it names another invitation"));
                }
                let inv = inv.clone();
                next.invitations.remove(&b.signer);
                if matches!(b.action, Action::Accept { .. }) {
                    next.members.insert(
                        b.signer.clone(),
                        Member {
                            identity: inv.invitee,
                            role: inv.role,
                        },
                    );
                } else {
                    // The invitation wrapped the current key to them: what
                    // is written from now on needs one they never held.
                    next.wraps.remove(&b.signer);
                    next.rotation_due = true;
                }
            }
            Action::Remove {
                member,
                fence,
                rotation,
                heads,
            } => {
                if role != Some(Role::Owner) {
                    return Err(not_allowed());
                }
                if *member == self.owner {
                    return Err(invalid("the owner cannot be removed"));
                }
                let (identity, role) =
                    match (next.members.remove(member), next.invitations.remove(member)) {
                        (Some(m), _) => (m.identity, Some(m.role)),
                        (None, Some(i)) => (i.invitee, None),
                        (None, None) => {
                            return Err(invalid("the removed account is not in the space"))
                        }
                    };
                next.wraps.remove(member);
                next.departed.insert(
                    member.clone(),
                    Departure {
                        seq,
                        fence: fence.clone(),
                        heads: heads.clone(),
                        awaiting_fence: false,
                        identity,
                        role,
                    },
                );
                next.rotate(seq, rotation, &signer)?;
            }
            Action::Leave { fence } => {
                if role.is_none() {
                    return Err(not_allowed());
                }
                if b.signer == self.owner {
                    return Err(invalid("the owner cannot leave their own space"));
                }
                let Some(left) = next.members.remove(&b.signer) else {
                    return Err(not_allowed());
                };
                next.wraps.remove(&b.signer);
                next.departed.insert(
                    b.signer.clone(),
                    Departure {
                        seq,
                        fence: fence.clone(),
                        heads: None,
                        awaiting_fence: true,
                        identity: left.identity,
                        role: Some(left.role),
                    },
                );
                next.rotation_due = true;
            }
            Action::Rotate { rotation, fenced } => {
                if role != Some(Role::Owner) {
                    return Err(not_allowed());
                }
                for (who, heads) in fenced.iter().flatten() {
                    match next.departed.get_mut(who) {
                        Some(d) if d.awaiting_fence => {
                            d.heads = Some(heads.clone());
                            d.awaiting_fence = false;
                        }
                        _ => return Err(invalid("it fences someone who did not just leave")),
                    }
                }
                next.rotate(seq, rotation, &signer)?;
            }
            Action::Rekey {
                identity,
                successor,
            } => {
                next.rekey(seq, &signer, identity, successor, v, pending)?;
            }
        }
        next.last = Checkpoint { seq, hash };
        next.seen.insert(hash);
        *self = next;
        Ok(())
    }

    /// A member's (or invitee's) new identity, vouched for by the one the
    /// chain held for them (`held`, which signed the record too).
    fn rekey(
        &mut self,
        seq: u64,
        held: &PublicIdentity,
        identity: &PublicIdentity,
        successor: &[u8],
        v: Verifier<'_>,
        pending: Option<&mut Pending>,
    ) -> Result<(), ChainError> {
        let bad = |source| ChainError::BadSuccessor { seq, source };
        let statement = Successor::decode(successor).map_err(bad)?;
        statement.verify().map_err(bad)?;
        if statement.previous != *held || statement.next != *identity {
            return Err(ChainError::Invalid {
                seq,
                reason: "its statement names other keys than the record".into(),
            });
        }
        let account = &held.account;
        if let Some(me) = v.me {
            if me.account == *account && me != identity && v.my_previous != Some(identity) {
                return Err(ChainError::MyKeyReplaced { seq });
            }
        }
        // Trust follows the signature: an identity that passed the pins
        // vouches for its successor. One that did not (still pending) must
        // hand over to a key that passes them.
        match pending {
            Some(pending) => {
                if pending.remove(account).is_some() {
                    check_identity(seq, identity, v, Some(pending))?;
                }
            }
            None => {
                let vouched = v.pins.and_then(|p| p.get(account)) == Some(held);
                if !vouched {
                    check_identity(seq, identity, v, None)?;
                }
            }
        }
        if let Some(m) = self.members.get_mut(account) {
            m.identity = identity.clone();
        } else if let Some(i) = self.invitations.get_mut(account) {
            i.invitee = identity.clone();
        } else {
            return Err(ChainError::UnknownSigner {
                seq,
                signer: account.clone(),
            });
        }
        self.replaced
            .entry(account.clone())
            .or_default()
            .push(held.clone());
        // The previous identity's holders include a removed device: what
        // is written from now on needs a key it never held.
        self.rotation_due = true;
        Ok(())
    }

    /// Those who left by themselves and whose heads no rotate has pinned
    /// yet: the owner's next rotate pins them.
    pub fn awaiting_fence(&self) -> Vec<UserId> {
        self.departed
            .iter()
            .filter(|(_, d)| d.awaiting_fence)
            .map(|(u, _)| u.clone())
            .collect()
    }

    /// A new epoch: exactly one wrap for every member and invitee left.
    fn rotate(
        &mut self,
        seq: u64,
        rotation: &Rotation,
        granter: &PublicIdentity,
    ) -> Result<(), ChainError> {
        let epoch = self.epoch.next();
        if rotation.epoch != epoch {
            return Err(ChainError::Invalid {
                seq,
                reason: format!("the new epoch is {}, not {epoch}", rotation.epoch),
            });
        }
        let mut wraps = BTreeMap::new();
        for w in &rotation.wraps {
            let Some(recipient) = self.identity_of(&w.recipient) else {
                return Err(ChainError::Invalid {
                    seq,
                    reason: format!(
                        "a key is wrapped for {}, who is not in the space",
                        w.recipient
                    ),
                });
            };
            check_wrap(seq, w, self.space, epoch, &recipient, granter)?;
            if wraps.insert(w.recipient.clone(), w.clone()).is_some() {
                return Err(ChainError::Invalid {
                    seq,
                    reason: format!("two keys are wrapped for {}", w.recipient),
                });
            }
        }
        if let Some(missing) = self.everyone().find(|a| !wraps.contains_key(*a)) {
            return Err(ChainError::Invalid {
                seq,
                reason: format!("no key is wrapped for {missing}"),
            });
        }
        self.wraps = wraps;
        self.previous.insert(epoch, rotation.previous.clone());
        self.epoch = epoch;
        self.rotation_due = false;
        Ok(())
    }

    /// Members and pending invitees: everyone a new epoch's key goes to.
    pub fn everyone(&self) -> impl Iterator<Item = &UserId> {
        self.members.keys().chain(self.invitations.keys())
    }

    fn identity_of(&self, account: &UserId) -> Option<PublicIdentity> {
        self.members
            .get(account)
            .map(|m| m.identity.clone())
            .or_else(|| self.invitations.get(account).map(|i| i.invitee.clone()))
    }

    fn signer_key(&self, seq: u64, signer: &UserId) -> Result<PublicIdentity, ChainError> {
        self.identity_of(signer)
            .ok_or_else(|| ChainError::UnknownSigner {
                seq,
                signer: signer.clone(),
            })
    }

    /// Everyone whose signature a head of this space may carry, with the
    /// key to check it: the members, and those who left (a departed
    /// writer's pinned head was signed while they were in). Viewers, and
    /// invitees removed before accepting, are marked: nothing they sign
    /// is read.
    pub fn signers(&self) -> BTreeMap<UserId, Signer> {
        let departed = self.departed.iter().map(|(who, d)| {
            let signer = Signer {
                identity: d.identity.clone(),
                viewer: !d.role.is_some_and(Role::can_write),
            };
            (who.clone(), signer)
        });
        let members = self.members.iter().map(|(who, m)| {
            let signer = Signer {
                identity: m.identity.clone(),
                viewer: !m.role.can_write(),
            };
            (who.clone(), signer)
        });
        // A member now who had left before (invited again) signs as the
        // member they are.
        departed.chain(members).collect()
    }

    pub fn role_of(&self, account: &UserId) -> Option<Role> {
        self.members.get(account).map(|m| m.role)
    }

    /// Whether `account`'s devices may publish: heads and objects of
    /// anyone else are ignored.
    pub fn can_write(&self, account: &UserId) -> bool {
        self.role_of(account).is_some_and(Role::can_write)
    }

    /// The current epoch's key, from `me`'s wrap.
    pub fn current_key(&self, me: &SharingIdentity) -> Result<EpochKey, ChainError> {
        let wrap = self.wraps.get(me.account()).ok_or(ChainError::NoKey {
            epoch: self.epoch.0,
        })?;
        let granter = self
            .members
            .get(&wrap.granter)
            .map(|m| m.identity.clone())
            .ok_or(ChainError::NoKey {
                epoch: self.epoch.0,
            })?;
        Ok(wrap.open(me, &granter)?)
    }

    /// The key of any epoch up to the current one, walking back from the
    /// current key: how a member who joined late reads the whole history.
    pub fn key_of_epoch(&self, me: &SharingIdentity, epoch: Epoch) -> Result<EpochKey, ChainError> {
        if epoch > self.epoch || epoch < Epoch::FIRST {
            return Err(ChainError::NoKey { epoch: epoch.0 });
        }
        let mut key = self.current_key(me)?;
        let mut at = self.epoch;
        while at > epoch {
            let sealed = self
                .previous
                .get(&at)
                .ok_or(ChainError::NoKey { epoch: at.0 - 1 })?;
            key = key.open_previous(&self.space, Epoch(at.0 - 1), sealed)?;
            at = Epoch(at.0 - 1);
        }
        Ok(key)
    }
}

fn check_identity(
    seq: u64,
    id: &PublicIdentity,
    v: Verifier<'_>,
    pending: Option<&mut Pending>,
) -> Result<(), ChainError> {
    let failed = match (v.me, v.pins) {
        (Some(me), _) if me.account == id.account && me != id => Some(ChainError::NotMyKey { seq }),
        // My own key, whatever this device pinned for its account before.
        (Some(me), _) if me == id => None,
        (_, Some(pins)) => pins
            .check(id)
            .err()
            .map(|source| ChainError::Pin { seq, source }),
        _ => None,
    };
    match (failed, pending) {
        (None, _) => Ok(()),
        (Some(e), Some(pending)) => {
            pending
                .entry(id.account.clone())
                .or_insert_with(|| (id.clone(), e));
            Ok(())
        }
        (Some(e), None) => Err(e),
    }
}

fn check_wrap(
    seq: u64,
    wrap: &KeyWrap,
    space: SpaceId,
    epoch: Epoch,
    recipient: &PublicIdentity,
    granter: &PublicIdentity,
) -> Result<(), ChainError> {
    let invalid = |reason: &str| ChainError::Invalid {
        seq,
        reason: reason.into(),
    };
    if wrap.space != space {
        return Err(invalid("its key is wrapped for another space"));
    }
    if wrap.epoch != epoch {
        return Err(invalid("its key is wrapped for another epoch"));
    }
    if wrap.recipient != recipient.account || wrap.recipient_key != recipient.wrap_key {
        return Err(invalid("its key is wrapped for someone else"));
    }
    wrap.verify(granter)
        .map_err(|source| ChainError::BadWrap { seq, source })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::space::identity::tests::user;
    use crate::space::record::tests::genesis;

    /// A space being built: signs each record as the next one.
    pub(crate) struct Space {
        pub id: SpaceId,
        pub key: EpochKey,
        pub records: Vec<Record>,
    }

    impl Space {
        pub(crate) fn new(owner: &SharingIdentity) -> Space {
            let id = SpaceId::generate();
            let key = EpochKey::generate();
            let records = vec![genesis(owner, id, &key)];
            Space { id, key, records }
        }

        pub(crate) fn next(&self, signer: &SharingIdentity, action: Action) -> Record {
            let last = self.records.last().unwrap();
            Record::sign(signer, self.id, last.body.seq + 1, last.hash(), action)
        }

        pub(crate) fn push(&mut self, signer: &SharingIdentity, action: Action) -> u64 {
            let r = self.next(signer, action);
            self.records.push(r);
            self.records.len() as u64 - 1
        }

        pub(crate) fn invite(
            &self,
            owner: &SharingIdentity,
            who: &PublicIdentity,
            role: Role,
            epoch: Epoch,
        ) -> Action {
            Action::Invite {
                invitee: who.clone(),
                role,
                wrap: KeyWrap::create(owner, who, self.id, epoch, &self.key).unwrap(),
            }
        }

        pub(crate) fn state(&self) -> Result<SpaceState, ChainError> {
            SpaceState::verify(self.id, &self.records, Verifier::default())
        }
    }

    pub(crate) struct People {
        pub alice: SharingIdentity,
        pub bob: SharingIdentity,
        pub carol: SharingIdentity,
    }

    /// alice owns; bob (editor) and carol (viewer) accepted: records 0-4.
    pub(crate) fn shared() -> (People, Space) {
        let p = People {
            alice: SharingIdentity::generate(user("alice")),
            bob: SharingIdentity::generate(user("bob")),
            carol: SharingIdentity::generate(user("carol")),
        };
        let mut s = Space::new(&p.alice);
        let a = s.invite(&p.alice, &p.bob.public(), Role::Editor, Epoch::FIRST);
        let inv_bob = s.push(&p.alice, a);
        let a = s.invite(&p.alice, &p.carol.public(), Role::Viewer, Epoch::FIRST);
        let inv_carol = s.push(&p.alice, a);
        s.push(
            &p.bob,
            Action::Accept {
                invitation: inv_bob,
            },
        );
        s.push(
            &p.carol,
            Action::Accept {
                invitation: inv_carol,
            },
        );
        (p, s)
    }

    #[test]
    fn invitations_and_acceptances_yield_members_roles_and_keys() {
        let (p, mut s) = shared();
        let st = s.state().unwrap();
        assert_eq!(st.owner, user("alice"));
        assert_eq!(st.role_of(&user("bob")), Some(Role::Editor));
        assert_eq!(st.role_of(&user("carol")), Some(Role::Viewer));
        assert!(st.can_write(&user("alice")) && st.can_write(&user("bob")));
        assert!(!st.can_write(&user("carol")), "a viewer cannot write");
        assert!(!st.can_write(&user("dave")));
        assert_eq!(st.epoch, Epoch::FIRST);
        assert!(st.invitations.is_empty());
        for who in [&p.alice, &p.bob, &p.carol] {
            assert_eq!(st.current_key(who).unwrap(), s.key);
        }
        assert_eq!(
            st.last,
            Checkpoint {
                seq: 4,
                hash: s.records[4].hash()
            }
        );

        // Dave is invited, then declines: nothing of him stays.
        let dave = SharingIdentity::generate(user("dave"));
        let a = s.invite(&p.alice, &dave.public(), Role::Editor, Epoch::FIRST);
        let inv = s.push(&p.alice, a);
        let pending = s.state().unwrap();
        assert_eq!(pending.invitations[&user("dave")].seq, inv);
        assert_eq!(pending.role_of(&user("dave")), None);
        // An invitee can already open the key, to show what they are invited to.
        assert_eq!(pending.current_key(&dave).unwrap(), s.key);
        assert!(!pending.rotation_due);
        s.push(&dave, Action::Decline { invitation: inv });
        let st = s.state().unwrap();
        assert!(st.rotation_due, "dave held the current key");
        assert!(st.invitations.is_empty() && !st.members.contains_key(&user("dave")));
        assert!(st.current_key(&dave).is_err());
    }

    #[test]
    fn a_forged_signer_is_refused() {
        let (p, s) = shared();
        // Signed by mallory's key in alice's name.
        let mallory = SharingIdentity::generate(user("alice"));
        let dave = SharingIdentity::generate(user("dave"));
        let mut forged = s.records.clone();
        forged.push(s.next(
            &mallory,
            s.invite(&mallory, &dave.public(), Role::Editor, Epoch::FIRST),
        ));
        assert_eq!(
            SpaceState::verify(s.id, &forged, Verifier::default()).unwrap_err(),
            ChainError::BadSignature {
                seq: 5,
                signer: user("alice")
            }
        );
        // Signed by someone not in the space.
        let mut outsider = s.records.clone();
        outsider.push(s.next(
            &dave,
            Action::Leave {
                fence: Fence::new(),
            },
        ));
        assert_eq!(
            SpaceState::verify(s.id, &outsider, Verifier::default()).unwrap_err(),
            ChainError::UnknownSigner {
                seq: 5,
                signer: user("dave")
            }
        );
        // A genesis signed by another key than the one it names.
        let mut fake = s.records.clone();
        let body = fake[0].body.clone();
        fake[0] = Record::sign(&mallory, body.space, 0, [0; 32], body.action);
        assert!(matches!(
            SpaceState::verify(s.id, &fake, Verifier::default()),
            Err(ChainError::BadSignature { seq: 0, .. })
        ));
        // A wrap signed by someone other than the record's signer.
        let mut bad_wrap = s.records.clone();
        let Action::Invite { invitee, role, .. } =
            s.invite(&p.alice, &dave.public(), Role::Editor, Epoch::FIRST)
        else {
            unreachable!()
        };
        let wrap = KeyWrap::create(&p.bob, &dave.public(), s.id, Epoch::FIRST, &s.key).unwrap();
        bad_wrap.push(s.next(
            &p.alice,
            Action::Invite {
                invitee,
                role,
                wrap,
            },
        ));
        assert!(matches!(
            SpaceState::verify(s.id, &bad_wrap, Verifier::default()),
            Err(ChainError::BadWrap { seq: 5, .. })
        ));
    }

    #[test]
    fn a_substituted_invitee_key_is_caught_by_the_invitee_and_by_pins() {
        let (p, s) = shared();
        let dave = SharingIdentity::generate(user("dave"));
        // The service handed alice another key under dave's account.
        let mallory = SharingIdentity::generate(user("dave"));
        let mut chain = s.records.clone();
        chain.push(s.next(
            &p.alice,
            s.invite(&p.alice, &mallory.public(), Role::Editor, Epoch::FIRST),
        ));
        // The chain alone is consistent...
        assert!(SpaceState::verify(s.id, &chain, Verifier::default()).is_ok());
        // ... but dave sees it is not his key,
        let me = dave.public();
        let v = Verifier {
            me: Some(&me),
            ..Verifier::default()
        };
        assert_eq!(
            SpaceState::verify(s.id, &chain, v).unwrap_err(),
            ChainError::NotMyKey { seq: 5 }
        );
        // and a member who pinned dave's real key sees the change.
        let mut pins = PinStore::default();
        pins.check_or_pin(&dave.public()).unwrap();
        let v = Verifier {
            pins: Some(&pins),
            ..Verifier::default()
        };
        assert!(matches!(
            SpaceState::verify(s.id, &chain, v).unwrap_err(),
            ChainError::Pin {
                seq: 5,
                source: PinError::KeyChanged { .. }
            }
        ));
        // An invite whose wrap goes to another key than the invitee's.
        let mut split = s.records.clone();
        let wrap =
            KeyWrap::create(&p.alice, &mallory.public(), s.id, Epoch::FIRST, &s.key).unwrap();
        split.push(s.next(
            &p.alice,
            Action::Invite {
                invitee: dave.public(),
                role: Role::Editor,
                wrap,
            },
        ));
        assert!(matches!(
            SpaceState::verify(s.id, &split, Verifier::default()),
            Err(ChainError::Invalid { seq: 5, .. })
        ));
    }

    #[test]
    fn replayed_dropped_reordered_or_foreign_records_are_refused() {
        let (p, s) = shared();
        let r = &s.records;
        let verify = |chain: Vec<Record>| SpaceState::verify(s.id, &chain, Verifier::default());
        let replayed = [r.clone(), vec![r[2].clone()]].concat();
        assert_eq!(
            verify(replayed).unwrap_err(),
            ChainError::Replayed { seq: 2 }
        );
        let dropped = [&r[..2], &r[3..]].concat();
        assert_eq!(
            verify(dropped).unwrap_err(),
            ChainError::OutOfOrder {
                expected: 2,
                found: 3
            }
        );
        let mut reordered = r.clone();
        reordered.swap(3, 4);
        assert_eq!(
            verify(reordered).unwrap_err(),
            ChainError::OutOfOrder {
                expected: 3,
                found: 4
            }
        );
        let no_genesis = r[1..].to_vec();
        assert_eq!(
            verify(no_genesis).unwrap_err(),
            ChainError::OutOfOrder {
                expected: 0,
                found: 1
            }
        );
        assert_eq!(verify(vec![]).unwrap_err(), ChainError::Empty);
        // A record of another space of alice's, with the right number.
        let other = Space::new(&p.alice);
        let foreign = Record::sign(
            &p.alice,
            other.id,
            5,
            r[4].hash(),
            Action::Rotate {
                rotation: Rotation {
                    epoch: Epoch(2),
                    wraps: vec![],
                    previous: vec![],
                },
                fenced: None,
            },
        );
        assert_eq!(
            verify([r.clone(), vec![foreign]].concat()).unwrap_err(),
            ChainError::WrongSpace {
                seq: 5,
                found: other.id
            }
        );
        // The whole chain checked as another space's.
        assert!(matches!(
            SpaceState::verify(other.id, r, Verifier::default()),
            Err(ChainError::WrongSpace { seq: 0, .. })
        ));
        // A record that names another predecessor (a fork by the service
        // splicing two histories).
        let dave = SharingIdentity::generate(user("dave"));
        let mut fork = s.records.clone();
        fork.truncate(4);
        let mut bad = s.next(
            &p.alice,
            s.invite(&p.alice, &dave.public(), Role::Viewer, Epoch::FIRST),
        );
        bad = Record::sign(&p.alice, s.id, 4, bad.body.prev, bad.body.action);
        fork.push(bad);
        assert_eq!(
            verify(fork).unwrap_err(),
            ChainError::BrokenChain { seq: 4 }
        );
    }

    #[test]
    fn a_hidden_or_rewritten_record_is_caught_by_the_checkpoint() {
        let (p, mut s) = shared();
        let cp = s.state().unwrap().last;
        let v = Verifier {
            checkpoint: Some(cp),
            ..Verifier::default()
        };
        assert!(SpaceState::verify(s.id, &s.records, v).is_ok());
        assert_eq!(
            SpaceState::verify(s.id, &s.records[..4], v).unwrap_err(),
            ChainError::RolledBack { seen: 5, found: 4 }
        );
        // Record 4 replaced by another one, validly signed (carol's
        // accept swapped for her decline).
        let mut other = s.records[..4].to_vec();
        s.records.truncate(4);
        other.push(s.next(&p.carol, Action::Decline { invitation: 2 }));
        assert_eq!(
            SpaceState::verify(s.id, &other, v).unwrap_err(),
            ChainError::Forked { seq: 4 }
        );
    }

    #[test]
    fn each_action_needs_the_role_that_allows_it() {
        let (p, s) = shared();
        let dave = SharingIdentity::generate(user("dave"));
        let refused = |signer: &SharingIdentity, action: Action| {
            let chain = [s.records.clone(), vec![s.next(signer, action)]].concat();
            SpaceState::verify(s.id, &chain, Verifier::default()).unwrap_err()
        };
        let not_allowed = |who: &str, action: &'static str| ChainError::NotAllowed {
            seq: 5,
            signer: user(who),
            action,
        };
        // An editor cannot invite, even wrapping the right key.
        let invite = Action::Invite {
            invitee: dave.public(),
            role: Role::Editor,
            wrap: KeyWrap::create(&p.bob, &dave.public(), s.id, Epoch::FIRST, &s.key).unwrap(),
        };
        assert_eq!(refused(&p.bob, invite), not_allowed("bob", "invite"));
        let remove = Action::Remove {
            member: user("carol"),
            fence: Fence::new(),
            rotation: Rotation {
                epoch: Epoch(2),
                wraps: vec![],
                previous: vec![],
            },
            heads: None,
        };
        assert_eq!(
            refused(&p.bob, remove.clone()),
            not_allowed("bob", "remove")
        );
        assert_eq!(refused(&p.carol, remove), not_allowed("carol", "remove"));
        let rotate = Action::Rotate {
            rotation: Rotation {
                epoch: Epoch(2),
                wraps: vec![],
                previous: vec![],
            },
            fenced: None,
        };
        assert_eq!(refused(&p.carol, rotate), not_allowed("carol", "rotate"));
        assert_eq!(
            refused(&p.bob, Action::Accept { invitation: 1 }),
            not_allowed("bob", "accept")
        );
        let create = s.records[0].body.action.clone();
        assert_eq!(refused(&p.alice, create), not_allowed("alice", "create"));
        assert!(matches!(
            refused(
                &p.alice,
                Action::Leave {
                    fence: Fence::new()
                }
            ),
            ChainError::Invalid { seq: 5, .. }
        ));
        // No second owner, and no second invitation to a member.
        assert!(matches!(
            refused(
                &p.alice,
                s.invite(&p.alice, &dave.public(), Role::Owner, Epoch::FIRST)
            ),
            ChainError::Invalid { .. }
        ));
        assert!(matches!(
            refused(
                &p.alice,
                s.invite(&p.alice, &p.bob.public(), Role::Viewer, Epoch::FIRST)
            ),
            ChainError::Invalid { .. }
        ));
        // An invitation wrapping a key of another epoch.
        assert!(matches!(
            refused(
                &p.alice,
                s.invite(&p.alice, &dave.public(), Role::Viewer, Epoch(2))
            ),
            ChainError::Invalid { .. }
        ));
    }

    #[test]
    fn leaving_marks_a_rotation_due_and_a_failed_record_changes_nothing() {
        let (p, s) = shared();
        let mut st = s.state().unwrap();
        let before = st.clone();
        let bad = s.next(&p.carol, Action::Accept { invitation: 2 });
        assert!(st.apply(&bad, Verifier::default()).is_err());
        assert_eq!(st, before);
        let fence = Fence::from([(cairn_protocol::DeviceId::parse("d1").unwrap(), 12)]);
        st.apply(
            &s.next(
                &p.bob,
                Action::Leave {
                    fence: fence.clone(),
                },
            ),
            Verifier::default(),
        )
        .unwrap();
        assert!(st.rotation_due);
        assert_eq!(st.role_of(&user("bob")), None);
        assert_eq!(
            st.departed[&user("bob")],
            Departure {
                seq: 5,
                fence,
                heads: None,
                awaiting_fence: true,
                identity: p.bob.public(),
                role: Some(Role::Editor),
            }
        );
    }

    /// alice's identity replaced by `new`: the rekey action, vouched for
    /// by her current one.
    pub(crate) fn rekey_to(
        old: &SharingIdentity,
        new: &SharingIdentity,
        generation: u64,
    ) -> Action {
        Action::Rekey {
            identity: new.public(),
            successor: Successor::sign(old, &new.public(), generation).encode(),
        }
    }

    #[test]
    fn a_rekey_vouched_by_the_held_key_moves_the_member_and_calls_for_a_new_epoch() {
        let (p, mut s) = shared();
        let alice2 = SharingIdentity::generate(user("alice"));
        s.push(&p.alice, rekey_to(&p.alice, &alice2, 1));
        let st = s.state().unwrap();
        assert_eq!(st.members[&user("alice")].identity, alice2.public());
        assert_eq!(st.replaced[&user("alice")], vec![p.alice.public()]);
        assert!(st.rotation_due);
        // The old key signs nothing more here; the new one does.
        let stale = s.next(
            &p.alice,
            s.invite(&p.alice, &p.alice.public(), Role::Editor, Epoch::FIRST),
        );
        assert!(matches!(
            st.clone().apply(&stale, Verifier::default()),
            Err(ChainError::BadSignature { .. })
        ));
        let new = crate::space::rotation::rotate(&st, &alice2, &s.key, BTreeMap::new()).unwrap();
        s.records.push(new.record);
        let st = s.state().unwrap();
        assert_eq!(st.epoch, Epoch(2));
        assert!(!st.rotation_due);
        assert_eq!(st.current_key(&alice2).unwrap(), new.key);
        assert_eq!(st.current_key(&p.bob).unwrap(), new.key);
        // What a removed device holds (the old identity) opens nothing new.
        assert!(st.current_key(&p.alice).is_err());

        // bob pinned the old key: the chain verifies, the change vouched for.
        let mut bobs = PinStore::default();
        bobs.check_or_pin(&p.alice.public()).unwrap();
        let v = Verifier {
            pins: Some(&bobs),
            ..Verifier::default()
        };
        assert!(SpaceState::verify(s.id, &s.records, v).is_ok());
        // A device of bob's that pinned only the new key: verifies too.
        let mut fresh = PinStore::default();
        fresh.check_or_pin(&alice2.public()).unwrap();
        let v = Verifier {
            pins: Some(&fresh),
            ..Verifier::default()
        };
        assert!(SpaceState::verify(s.id, &s.records, v).is_ok());
        // A device that pinned some third key for alice: the loud warning.
        let mut other = PinStore::default();
        other
            .check_or_pin(&SharingIdentity::generate(user("alice")).public())
            .unwrap();
        let v = Verifier {
            pins: Some(&other),
            ..Verifier::default()
        };
        assert!(matches!(
            SpaceState::verify(s.id, &s.records, v),
            Err(ChainError::Pin {
                source: PinError::KeyChanged { .. },
                ..
            })
        ));
        // alice's device with the new identity; a removed one with the old.
        let me = alice2.public();
        let v = Verifier {
            me: Some(&me),
            ..Verifier::default()
        };
        assert!(SpaceState::verify(s.id, &s.records, v).is_ok());
        let old = p.alice.public();
        let v = Verifier {
            me: Some(&old),
            ..Verifier::default()
        };
        assert_eq!(
            SpaceState::verify(s.id, &s.records, v).unwrap_err(),
            ChainError::MyKeyReplaced { seq: 5 }
        );
    }

    #[test]
    fn a_new_key_for_someone_no_rekey_vouched_for_is_refused() {
        let (p, mut s) = shared();
        let alice2 = SharingIdentity::generate(user("alice"));
        let before = s.records.clone();
        // Bob pinned the new key (it came with a statement), but this chain
        // was never rekeyed: its alice is a key he no longer trusts.
        let mut pins = PinStore::default();
        pins.check_or_pin(&alice2.public()).unwrap();
        let v = Verifier {
            pins: Some(&pins),
            ..Verifier::default()
        };
        assert!(matches!(
            SpaceState::verify(s.id, &before, v),
            Err(ChainError::Pin { seq: 0, .. })
        ));
        // alice's own device before it appended the rekey: expected, when
        // it says which key it had.
        let (me, old) = (alice2.public(), p.alice.public());
        let v = Verifier {
            me: Some(&me),
            my_previous: Some(&old),
            ..Verifier::default()
        };
        assert!(SpaceState::verify(s.id, &before, v).is_ok());
        let v = Verifier {
            me: Some(&me),
            ..Verifier::default()
        };
        assert_eq!(
            SpaceState::verify(s.id, &before, v).unwrap_err(),
            ChainError::NotMyKey { seq: 0 }
        );

        let mallory = SharingIdentity::generate(user("alice"));
        let st = s.state().unwrap();
        // A statement signed by another key than the held one.
        let forged = Action::Rekey {
            identity: mallory.public(),
            successor: Successor {
                previous: p.alice.public(),
                ..Successor::sign(&mallory, &mallory.public(), 1)
            }
            .encode(),
        };
        let r = s.next(&p.alice, forged);
        assert!(matches!(
            st.clone().apply(&r, Verifier::default()),
            Err(ChainError::BadSuccessor {
                source: SuccessorError::BadSignature { .. },
                ..
            })
        ));
        // A record whose statement names another key than its own.
        let r = s.next(
            &p.alice,
            Action::Rekey {
                identity: mallory.public(),
                successor: Successor::sign(&p.alice, &alice2.public(), 1).encode(),
            },
        );
        assert!(matches!(
            st.clone().apply(&r, Verifier::default()),
            Err(ChainError::Invalid { .. })
        ));
        // The record signed by the new key instead of the held one.
        let r = s.next(&mallory, rekey_to(&p.alice, &mallory, 1));
        assert!(matches!(
            st.clone().apply(&r, Verifier::default()),
            Err(ChainError::BadSignature { .. })
        ));
        // bob rekeys himself the same way; an outsider cannot.
        let bob2 = SharingIdentity::generate(user("bob"));
        s.push(&p.bob, rekey_to(&p.bob, &bob2, 1));
        let st = s.state().unwrap();
        assert_eq!(st.members[&user("bob")].identity, bob2.public());
        let dave = SharingIdentity::generate(user("dave"));
        let r = s.next(
            &dave,
            rekey_to(&dave, &SharingIdentity::generate(user("dave")), 1),
        );
        assert!(matches!(
            st.clone().apply(&r, Verifier::default()),
            Err(ChainError::UnknownSigner { .. })
        ));
    }
}
