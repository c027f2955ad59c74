//! Starting a new epoch: the owner's record that removes a member (or
//! follows someone's leaving), with a new random key wrapped to everyone
//! who stays and the previous key sealed under the new one.
//!
//! Pure: it takes the verified state and the owner's keys and returns the
//! signed record and the new key. The caller appends the record (the
//! service orders it) and seals with the new key from then on; the removed
//! member never receives it, so nothing written after the record opens
//! with anything they hold.

use cairn_protocol::UserId;

use crate::space::chain::SpaceState;
use crate::space::epoch::EpochKey;
use crate::space::identity::SharingIdentity;
use std::collections::BTreeMap;

use crate::space::record::{Action, Fence, HeadFence, Record, Rotation};
use crate::space::wrap::{KeyWrap, WrapError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RotationError {
    #[error("only the owner of a space can remove members or change its key")]
    NotOwner,
    #[error("{member} is not in this space")]
    NotInSpace { member: UserId },
    #[error("the owner cannot be removed from their own space")]
    RemovingOwner,
    #[error("{0}")]
    Wrap(#[from] WrapError),
}

/// A signed record to append, and the key of the epoch it starts.
#[derive(Debug, Clone)]
pub struct NewEpoch {
    pub record: Record,
    pub key: EpochKey,
}

fn new_epoch(
    state: &SpaceState,
    owner: &SharingIdentity,
    current: &EpochKey,
    leaving: Option<&UserId>,
) -> Result<(Rotation, EpochKey), RotationError> {
    let is_owner = state
        .members
        .get(&state.owner)
        .is_some_and(|m| m.identity == owner.public());
    if !is_owner {
        return Err(RotationError::NotOwner);
    }
    let epoch = state.epoch.next();
    let key = EpochKey::generate();
    let mut wraps = Vec::new();
    let stays = state
        .members
        .values()
        .map(|m| &m.identity)
        .chain(state.invitations.values().map(|i| &i.invitee))
        .filter(|id| Some(&id.account) != leaving);
    for id in stays {
        wraps.push(KeyWrap::create(owner, id, state.space, epoch, &key)?);
    }
    let previous = key.seal_previous(&state.space, state.epoch, current);
    Ok((
        Rotation {
            epoch,
            wraps,
            previous,
        },
        key,
    ))
}

/// The record that removes `member` (fenced at `fence`, and at exactly the
/// heads `heads` the owner read) and starts a new epoch for everyone else.
pub fn remove_member(
    state: &SpaceState,
    owner: &SharingIdentity,
    current: &EpochKey,
    member: &UserId,
    fence: Fence,
    heads: HeadFence,
) -> Result<NewEpoch, RotationError> {
    if *member == state.owner {
        return Err(RotationError::RemovingOwner);
    }
    if !state.members.contains_key(member) && !state.invitations.contains_key(member) {
        return Err(RotationError::NotInSpace {
            member: member.clone(),
        });
    }
    let (rotation, key) = new_epoch(state, owner, current, Some(member))?;
    let action = Action::Remove {
        member: member.clone(),
        fence,
        rotation,
        heads: Some(heads),
    };
    Ok(NewEpoch {
        record: state.next_record(owner, action),
        key,
    })
}

/// The record that starts a new epoch after someone left (or whenever the
/// owner wants a new key), pinning the heads of those who left (`fenced`,
/// read by the owner from the bucket; see [`SpaceState::awaiting_fence`]).
pub fn rotate(
    state: &SpaceState,
    owner: &SharingIdentity,
    current: &EpochKey,
    fenced: BTreeMap<UserId, HeadFence>,
) -> Result<NewEpoch, RotationError> {
    let (rotation, key) = new_epoch(state, owner, current, None)?;
    let fenced = (!fenced.is_empty()).then_some(fenced);
    Ok(NewEpoch {
        record: state.next_record(owner, Action::Rotate { rotation, fenced }),
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::chain::tests::shared;
    use crate::space::chain::{ChainError, Verifier};
    use crate::space::epoch::Epoch;
    use crate::space::identity::tests::user;
    use crate::space::object_ad::{self, ObjectPlace};
    use crate::space::record::{FencedHead, Role};
    use crate::sync::object::{decode, ObjectKind};
    use cairn_protocol::DeviceId;

    #[test]
    fn the_removed_member_cannot_open_the_new_epoch_and_the_rest_read_all_of_it() {
        let (p, mut s) = shared();
        let st = s.state().unwrap();
        let fence = Fence::from([(DeviceId::parse("bob-laptop").unwrap(), 41)]);
        let heads = HeadFence::from([(
            DeviceId::parse("bob-laptop").unwrap(),
            FencedHead {
                seq: 41,
                head: [7; 32],
            },
        )]);
        let new = remove_member(
            &st,
            &p.alice,
            &s.key,
            &user("bob"),
            fence.clone(),
            heads.clone(),
        )
        .unwrap();
        s.records.push(new.record.clone());
        let st = s.state().unwrap();
        assert_eq!(st.epoch, Epoch(2));
        assert_eq!(st.role_of(&user("bob")), None);
        assert_eq!(st.departed[&user("bob")].fence, fence);
        assert_eq!(st.departed[&user("bob")].heads, Some(heads));
        assert!(!st.can_write(&user("bob")));

        // Everyone left gets the new key and, through it, the old one.
        for who in [&p.alice, &p.carol] {
            assert_eq!(st.current_key(who).unwrap(), new.key);
            assert_eq!(st.key_of_epoch(who, Epoch::FIRST).unwrap(), s.key);
        }
        // Bob has no wrap of the new epoch, and none of its wraps opens
        // for him.
        assert_eq!(
            st.current_key(&p.bob).unwrap_err(),
            ChainError::NoKey { epoch: 2 }
        );
        let Action::Remove { rotation, .. } = &new.record.body.action else {
            panic!("not a removal")
        };
        assert_eq!(rotation.wraps.len(), 2);
        for w in &rotation.wraps {
            assert!(w.open(&p.bob, &p.alice.public()).is_err());
        }
        // The old key does not open what is sealed after the removal, nor
        // the sealed previous key (which only the new key opens).
        let place = ObjectPlace {
            space: s.id,
            user: user("alice"),
            device: DeviceId::parse("alice-desk").unwrap(),
            key: "log/01".into(),
        };
        let after = decode(&object_ad::seal(
            ObjectKind::Segment,
            1,
            &place,
            Epoch(2),
            &new.key,
            b"after",
        ))
        .unwrap();
        let old = s.key.clone();
        let bobs_keys = |_: Epoch| Some(old.clone());
        assert!(object_ad::open(&after, &place, bobs_keys).is_err());
        assert!(s
            .key
            .open_previous(&s.id, Epoch::FIRST, &rotation.previous)
            .is_err());
        // What he could read before stays readable with what he holds.
        let before = decode(&object_ad::seal(
            ObjectKind::Segment,
            1,
            &place,
            Epoch::FIRST,
            &s.key,
            b"before",
        ))
        .unwrap();
        assert_eq!(
            object_ad::open(&before, &place, bobs_keys).unwrap(),
            b"before"
        );

        // A member who joins late reads the whole history.
        let dave = SharingIdentity::generate(user("dave"));
        let invite = Action::Invite {
            invitee: dave.public(),
            role: Role::Viewer,
            wrap: KeyWrap::create(&p.alice, &dave.public(), s.id, Epoch(2), &new.key).unwrap(),
        };
        let inv = s.push(&p.alice, invite);
        s.push(&dave, Action::Accept { invitation: inv });
        let st = s.state().unwrap();
        assert_eq!(st.key_of_epoch(&dave, Epoch::FIRST).unwrap(), s.key);
        assert_eq!(st.key_of_epoch(&dave, Epoch(2)).unwrap(), new.key);
        assert!(st.key_of_epoch(&dave, Epoch(3)).is_err());
    }

    #[test]
    fn after_a_leave_the_owner_rotates_and_only_the_owner_can() {
        let (p, mut s) = shared();
        s.push(
            &p.carol,
            Action::Leave {
                fence: Fence::new(),
            },
        );
        let st = s.state().unwrap();
        assert!(st.rotation_due);
        // Carol's own fence is her word: nothing of hers is read until
        // the owner pins her heads.
        assert_eq!(st.awaiting_fence(), vec![user("carol")]);
        assert_eq!(
            rotate(&st, &p.bob, &s.key, BTreeMap::new()).unwrap_err(),
            RotationError::NotOwner
        );
        let heads = HeadFence::from([(
            DeviceId::parse("carol-phone").unwrap(),
            FencedHead {
                seq: 3,
                head: [9; 32],
            },
        )]);
        // Pinning heads of someone who did not leave is refused.
        let wrong = rotate(
            &st,
            &p.alice,
            &s.key,
            BTreeMap::from([(user("bob"), heads.clone())]),
        )
        .unwrap();
        assert!(matches!(
            st.clone().apply(&wrong.record, Verifier::default()),
            Err(ChainError::Invalid { .. })
        ));
        let new = rotate(
            &st,
            &p.alice,
            &s.key,
            BTreeMap::from([(user("carol"), heads.clone())]),
        )
        .unwrap();
        s.records.push(new.record);
        let st = s.state().unwrap();
        assert!(!st.rotation_due);
        assert!(st.awaiting_fence().is_empty());
        assert_eq!(st.departed[&user("carol")].heads, Some(heads));
        assert_eq!(st.current_key(&p.bob).unwrap(), new.key);
        assert!(st.current_key(&p.carol).is_err());
        assert_eq!(
            remove_member(
                &st,
                &p.alice,
                &new.key,
                &user("carol"),
                Fence::new(),
                HeadFence::new()
            )
            .unwrap_err(),
            RotationError::NotInSpace {
                member: user("carol")
            }
        );
        assert_eq!(
            remove_member(
                &st,
                &p.alice,
                &new.key,
                &user("alice"),
                Fence::new(),
                HeadFence::new()
            )
            .unwrap_err(),
            RotationError::RemovingOwner
        );
    }

    #[test]
    fn a_rotation_that_leaves_someone_out_or_wraps_to_an_outsider_is_refused() {
        let (p, s) = shared();
        let st = s.state().unwrap();
        let new = rotate(&st, &p.alice, &s.key, BTreeMap::new()).unwrap();
        let Action::Rotate { mut rotation, .. } = new.record.body.action.clone() else {
            panic!("not a rotation")
        };
        let resign = |rotation: Rotation| {
            let r = Record::sign(
                &p.alice,
                s.id,
                5,
                st.last.hash,
                Action::Rotate {
                    rotation,
                    fenced: None,
                },
            );
            let mut st = st.clone();
            st.apply(&r, Verifier::default())
        };
        assert!(resign(rotation.clone()).is_ok());
        let dropped = rotation.wraps.pop().unwrap();
        assert!(matches!(
            resign(rotation.clone()),
            Err(ChainError::Invalid { .. })
        ));
        rotation.wraps.push(dropped.clone());
        rotation.wraps.push(dropped);
        assert!(matches!(
            resign(rotation.clone()),
            Err(ChainError::Invalid { .. })
        ));
        rotation.wraps.pop();
        let outsider = SharingIdentity::generate(user("eve"));
        rotation
            .wraps
            .push(KeyWrap::create(&p.alice, &outsider.public(), s.id, Epoch(2), &new.key).unwrap());
        assert!(matches!(
            resign(rotation.clone()),
            Err(ChainError::Invalid { .. })
        ));
        rotation.wraps.pop();
        rotation.epoch = Epoch(3);
        assert!(matches!(resign(rotation), Err(ChainError::Invalid { .. })));
    }
}
