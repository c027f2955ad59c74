//! The shared notebooks this device knows, from its store alone (no
//! service): for the sidebar's marks and the editor's "you can view" line,
//! which must show offline and after every round without a request.
//!
//! Each space's chain is verified again from the records the store keeps
//! (they were checked against the pins and the checkpoint when kept, by
//! [`crate::sharing::Sharing::refresh`]); one that no longer verifies is
//! left out rather than shown with members nobody signed.

use cairn_core::space::chain::{SpaceState, Verifier};
use cairn_core::space::local::Standing;
use cairn_core::space::record::Role;
use cairn_core::Store;
use cairn_protocol::UserId;

use crate::sharing::{members_of, MemberInfo, ShareError};

/// A notebook shared in a space this account is, or was, a member of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedNotebook {
    /// The notebook's id in this store.
    pub notebook: String,
    /// This account's role; once departed it says nothing (the copy left
    /// is this account's own).
    pub role: Role,
    /// Member, or departed (removed, or left): invitations claim no notebook.
    pub standing: Standing,
    pub owner: UserId,
    /// Members first (the owner, then by account), then pending invitees.
    pub members: Vec<MemberInfo>,
}

/// Every shared notebook the store holds a membership (present or past)
/// for; a space whose chain does not verify is said in the log and left
/// out.
pub fn shared_notebooks(store: &Store) -> Result<Vec<SharedNotebook>, ShareError> {
    let mut out = Vec::new();
    for local in store.local_spaces()? {
        let Some(notebook) = local.notebook.clone() else {
            continue;
        };
        if local.standing == Standing::Invited {
            continue;
        }
        let records = store.local_space_records(&local.space)?;
        let state = match SpaceState::verify(local.space, &records, Verifier::default()) {
            Ok(state) => state,
            Err(e) => {
                eprintln!("warning: a shared notebook's stored membership does not verify: {e}");
                continue;
            }
        };
        out.push(SharedNotebook {
            notebook,
            role: local.role,
            standing: local.standing,
            owner: state.owner.clone(),
            members: members_of(&state, None),
        });
    }
    Ok(out)
}
