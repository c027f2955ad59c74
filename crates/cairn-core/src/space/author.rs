//! The records a member signs besides the owner's rotations
//! ([`crate::space::rotation`]): the one that creates a space, an
//! invitation, an answer to one, and leaving. Pure: each takes the
//! verified state and the signer's identity and returns the signed
//! record (numbered after the state's newest), for the caller to append.

use cairn_protocol::UserId;

use crate::space::chain::SpaceState;
use crate::space::epoch::{Epoch, EpochKey, SpaceId};
use crate::space::identity::{PublicIdentity, SharingIdentity};
use crate::space::record::{Action, Fence, Record, Role};
use crate::space::rotation::NewEpoch;
use crate::space::successor::Successor;
use crate::space::wrap::{KeyWrap, WrapError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorError {
    #[error("only the owner of a shared notebook can invite")]
    NotOwner,
    #[error("a shared notebook has one owner: invite as editor or viewer")]
    OwnerRole,
    #[error("{account} is already in this shared notebook or invited to it")]
    AlreadyIn { account: UserId },
    #[error("you have no pending invitation to this shared notebook")]
    NotInvited,
    #[error("you are not a member of this shared notebook")]
    NotMember,
    #[error("the owner cannot leave their own shared notebook; remove the others instead")]
    OwnerLeaving,
    #[error("this shared notebook does not hold the sharing key being replaced")]
    NotHeld,
    #[error("{0}")]
    Wrap(#[from] WrapError),
}

/// A new space: its record 0, and the first epoch's key.
pub fn create(owner: &SharingIdentity) -> Result<NewEpoch, AuthorError> {
    let key = EpochKey::generate();
    let record = genesis(owner, SpaceId::generate(), &key)?;
    Ok(NewEpoch { record, key })
}

/// Record 0 of `space`, its first epoch's `key` wrapped to the owner.
pub fn genesis(
    owner: &SharingIdentity,
    space: SpaceId,
    key: &EpochKey,
) -> Result<Record, AuthorError> {
    let wrap = KeyWrap::create(owner, &owner.public(), space, Epoch::FIRST, key)?;
    Ok(Record::sign(
        owner,
        space,
        0,
        [0; 32],
        Action::Create {
            owner: owner.public(),
            wrap,
        },
    ))
}

/// The owner's invitation of `invitee` as `role`, with the current key
/// wrapped to them.
pub fn invite(
    state: &SpaceState,
    owner: &SharingIdentity,
    current: &EpochKey,
    invitee: &PublicIdentity,
    role: Role,
) -> Result<Record, AuthorError> {
    if state.owner != *owner.account() {
        return Err(AuthorError::NotOwner);
    }
    if role == Role::Owner {
        return Err(AuthorError::OwnerRole);
    }
    if state.members.contains_key(&invitee.account)
        || state.invitations.contains_key(&invitee.account)
    {
        return Err(AuthorError::AlreadyIn {
            account: invitee.account.clone(),
        });
    }
    let wrap = KeyWrap::create(owner, invitee, state.space, state.epoch, current)?;
    Ok(state.next_record(
        owner,
        Action::Invite {
            invitee: invitee.clone(),
            role,
            wrap,
        },
    ))
}

/// The invitee's accept (or decline) of their pending invitation.
pub fn answer(
    state: &SpaceState,
    me: &SharingIdentity,
    accept: bool,
) -> Result<Record, AuthorError> {
    let invitation = state
        .invitations
        .get(me.account())
        .ok_or(AuthorError::NotInvited)?
        .seq;
    let action = if accept {
        Action::Accept { invitation }
    } else {
        Action::Decline { invitation }
    };
    Ok(state.next_record(me, action))
}

/// A member's leaving, fenced at the last sequence of each of their
/// devices.
pub fn leave(
    state: &SpaceState,
    me: &SharingIdentity,
    fence: Fence,
) -> Result<Record, AuthorError> {
    if *me.account() == state.owner {
        return Err(AuthorError::OwnerLeaving);
    }
    if !state.members.contains_key(me.account()) {
        return Err(AuthorError::NotMember);
    }
    Ok(state.next_record(me, Action::Leave { fence }))
}

/// The rekey record by which `previous` (the identity the chain holds for
/// this account) hands over to `successor`'s new identity.
pub fn rekey(
    state: &SpaceState,
    previous: &SharingIdentity,
    successor: &Successor,
) -> Result<Record, AuthorError> {
    let held = state
        .members
        .get(previous.account())
        .map(|m| &m.identity)
        .or_else(|| {
            state
                .invitations
                .get(previous.account())
                .map(|i| &i.invitee)
        });
    if held != Some(&previous.public()) || successor.previous != previous.public() {
        return Err(AuthorError::NotHeld);
    }
    Ok(state.next_record(
        previous,
        Action::Rekey {
            identity: successor.next.clone(),
            successor: successor.encode(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::chain::Verifier;
    use crate::space::identity::tests::user;

    #[test]
    fn a_space_made_here_verifies_through_invite_accept_and_leave() {
        let alice = SharingIdentity::generate(user("alice"));
        let bob = SharingIdentity::generate(user("bob"));
        let new = create(&alice).unwrap();
        let space = new.record.body.space;
        let mut records = vec![new.record];
        let state = |r: &[Record]| SpaceState::verify(space, r, Verifier::default()).unwrap();

        let st = state(&records);
        assert_eq!(st.current_key(&alice).unwrap(), new.key);
        assert_eq!(
            invite(&st, &bob, &new.key, &alice.public(), Role::Editor).unwrap_err(),
            AuthorError::NotOwner
        );
        assert_eq!(
            invite(&st, &alice, &new.key, &bob.public(), Role::Owner).unwrap_err(),
            AuthorError::OwnerRole
        );
        records.push(invite(&st, &alice, &new.key, &bob.public(), Role::Editor).unwrap());
        let st = state(&records);
        assert!(matches!(
            invite(&st, &alice, &new.key, &bob.public(), Role::Viewer),
            Err(AuthorError::AlreadyIn { .. })
        ));
        assert_eq!(st.current_key(&bob).unwrap(), new.key);
        assert_eq!(
            answer(&st, &alice, true).unwrap_err(),
            AuthorError::NotInvited
        );
        assert_eq!(
            leave(&st, &bob, Fence::new()).unwrap_err(),
            AuthorError::NotMember
        );
        records.push(answer(&st, &bob, true).unwrap());
        let st = state(&records);
        assert_eq!(st.role_of(&user("bob")), Some(Role::Editor));
        assert_eq!(
            leave(&st, &alice, Fence::new()).unwrap_err(),
            AuthorError::OwnerLeaving
        );
        records.push(leave(&st, &bob, Fence::new()).unwrap());
        let st = state(&records);
        assert_eq!(st.role_of(&user("bob")), None);
        assert!(st.rotation_due);
    }

    #[test]
    fn a_declined_invitation_leaves_nothing() {
        let alice = SharingIdentity::generate(user("alice"));
        let bob = SharingIdentity::generate(user("bob"));
        let new = create(&alice).unwrap();
        let space = new.record.body.space;
        let mut records = vec![new.record];
        let st = SpaceState::verify(space, &records, Verifier::default()).unwrap();
        records.push(invite(&st, &alice, &new.key, &bob.public(), Role::Viewer).unwrap());
        let st = SpaceState::verify(space, &records, Verifier::default()).unwrap();
        records.push(answer(&st, &bob, false).unwrap());
        let st = SpaceState::verify(space, &records, Verifier::default()).unwrap();
        assert!(st.invitations.is_empty() && st.role_of(&user("bob")).is_none());
    }
}
