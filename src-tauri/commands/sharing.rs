//! Shared notebooks in the window: this account's id and fingerprint,
//! checking someone before inviting them (their fingerprint and the
//! safety number, before anything is sent), the invitation itself,
//! invitations waiting here, accept and decline, members, removing a
//! member and leaving. Each command is one operation of
//! `cairn_client::sharing`, the same the CLI's `cairn share`, `cairn
//! accept`, ... take (docs/sharing.md); the notes travel with sync.

use cairn_client::sharing::{InvitationInfo, MemberInfo, Sharing};
use cairn_core::space::epoch::SpaceId;
use cairn_core::space::label;
use cairn_core::space::record::Role;
use cairn_protocol::UserId;
use serde::{Deserialize, Serialize};
use tauri::State;

use crate::commands::notes::validate_id;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// A member's role, as the UI names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub enum ShareRole {
    Owner,
    Editor,
    Viewer,
}

impl From<Role> for ShareRole {
    fn from(r: Role) -> ShareRole {
        match r {
            Role::Owner => ShareRole::Owner,
            Role::Editor => ShareRole::Editor,
            Role::Viewer => ShareRole::Viewer,
        }
    }
}

/// This account as others share with it: the id people give each other,
/// and the fingerprint to compare.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct MyIdentity {
    pub account: String,
    pub fingerprint: String,
}

/// Someone about to be invited, as the service hands their identity.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct InviteeCheck {
    pub account: String,
    pub fingerprint: String,
    /// Both fingerprints, the same on both sides: read out to compare.
    pub safety_number: String,
}

/// An invitation sent.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Invited {
    /// The shared notebook's id: sharing gives a notebook the id its
    /// space derives (the same on every member's device).
    pub notebook: String,
    pub account: String,
    pub safety_number: String,
}

/// One person in a shared notebook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Member {
    pub account: String,
    pub role: ShareRole,
    /// Invited, not yet accepted.
    pub pending: bool,
    pub fingerprint: String,
}

impl From<MemberInfo> for Member {
    fn from(m: MemberInfo) -> Member {
        Member {
            account: m.account.to_string(),
            role: m.role.into(),
            pending: m.pending,
            fingerprint: m.fingerprint,
        }
    }
}

/// An invitation waiting for this account.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Invitation {
    /// What accept and decline take.
    pub id: String,
    /// The notebook's name as its owner sealed it, if it opened.
    pub notebook: Option<String>,
    pub from: String,
    pub role: ShareRole,
    pub from_fingerprint: String,
    /// The same number the owner was shown before inviting.
    pub safety_number: String,
}

impl From<InvitationInfo> for Invitation {
    fn from(i: InvitationInfo) -> Invitation {
        Invitation {
            id: i.id,
            notebook: i.notebook,
            from: i.from.to_string(),
            role: i.role.into(),
            from_fingerprint: i.from_fingerprint,
            safety_number: i.safety_number,
        }
    }
}

/// The invitations waiting, and how many could not be verified (their
/// reasons go to the log).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Invitations {
    pub pending: Vec<Invitation>,
    pub unreadable: usize,
}

fn account(value: &str) -> AppResult<UserId> {
    UserId::parse(value.trim()).map_err(|_| {
        AppError::invalid(
            "account id",
            "that is not an account id; ask them for the one Cairn shows under Share…",
        )
    })
}

fn role(value: ShareRole) -> AppResult<Role> {
    match value {
        ShareRole::Editor => Ok(Role::Editor),
        ShareRole::Viewer => Ok(Role::Viewer),
        ShareRole::Owner => Err(AppError::invalid(
            "role",
            "a notebook has one owner; invite as editor or viewer",
        )),
    }
}

/// Runs one sharing operation, then hands what it wrote to the store (a
/// notebook renumbered or made) to the window and the sync task.
async fn with_sharing<T, F>(state: &AppState, f: F) -> AppResult<T>
where
    F: AsyncFnOnce(&Sharing) -> Result<T, cairn_client::sharing::ShareError>,
{
    let session = state.session()?;
    let result = match Sharing::open(state.data_dir(), session, state.store_handle()).await {
        Ok(sharing) => f(&sharing).await,
        Err(e) => Err(e),
    };
    state.flush_store_events();
    result.map_err(|e| {
        // The window gets a sentence; the log keeps what happened.
        eprintln!("cairn-desktop: sharing: {e:?}");
        AppError::Share(Box::new(e))
    })
}

#[tauri::command]
pub async fn sharing_identity(state: State<'_, AppState>) -> AppResult<MyIdentity> {
    with_sharing(&state, async |s| {
        let me = s.identity();
        Ok(MyIdentity {
            account: me.account.to_string(),
            fingerprint: me.fingerprint,
        })
    })
    .await
}

/// The first step of sharing: who the account id is, before anything is
/// sent. A key other than the one pinned for them fails with
/// `key_changed`.
#[tauri::command]
pub async fn share_check(state: State<'_, AppState>, with: String) -> AppResult<InviteeCheck> {
    let invitee = account(&with)?;
    with_sharing(&state, async |s| {
        let found = s.check_invitee(&invitee).await?;
        Ok(InviteeCheck {
            account: found.account.to_string(),
            fingerprint: found.fingerprint,
            safety_number: found.safety_number,
        })
    })
    .await
}

/// The second step: the invitation, to the identity whose fingerprint the
/// first step showed (another one now is refused, not sent).
#[tauri::command]
pub async fn share_invite(
    state: State<'_, AppState>,
    notebook: String,
    with: String,
    role: ShareRole,
    fingerprint: String,
) -> AppResult<Invited> {
    validate_id(&notebook)?;
    let invitee = account(&with)?;
    let role = self::role(role)?;
    let invited = with_sharing(&state, async |s| {
        s.share(&notebook, &invitee, role, Some(&fingerprint)).await
    })
    .await?;
    let space = SpaceId::parse(&invited.id)
        .map_err(|e| AppError::invalid("shared notebook", e.to_string()))?;
    Ok(Invited {
        notebook: label::notebook_id(&space),
        account: invitee.to_string(),
        safety_number: invited.safety_number,
    })
}

#[tauri::command]
pub async fn invitations_list(state: State<'_, AppState>) -> AppResult<Invitations> {
    with_sharing(&state, async |s| {
        let found = s.invitations().await?;
        for (id, e) in &found.unreadable {
            eprintln!("cairn-desktop: invitation {id} cannot be shown: {e}");
        }
        Ok(Invitations {
            pending: found.pending.into_iter().map(Invitation::from).collect(),
            unreadable: found.unreadable.len(),
        })
    })
    .await
}

/// Accepts: the notebook is made in the tree at once, its notes follow
/// with the sync this wakes.
#[tauri::command]
pub async fn invitation_accept(state: State<'_, AppState>, id: String) -> AppResult<String> {
    let joined = with_sharing(&state, async |s| s.accept(&id).await).await?;
    state.sync().local_changes.notify_one();
    joined
        .local
        .notebook
        .ok_or_else(|| AppError::invalid("invitation", "it names no notebook"))
}

#[tauri::command]
pub async fn invitation_decline(state: State<'_, AppState>, id: String) -> AppResult<()> {
    with_sharing(&state, async |s| s.decline(&id).await).await
}

#[tauri::command]
pub async fn notebook_members(
    state: State<'_, AppState>,
    notebook: String,
) -> AppResult<Vec<Member>> {
    validate_id(&notebook)?;
    let members = with_sharing(&state, async |s| s.members(&notebook).await).await?;
    Ok(members.into_iter().map(Member::from).collect())
}

/// The owner removes a member (or withdraws an invitation): their access
/// ends now, and what is written from now on is sealed with a key they
/// never get.
#[tauri::command]
pub async fn notebook_unshare(
    state: State<'_, AppState>,
    notebook: String,
    member: String,
) -> AppResult<()> {
    validate_id(&notebook)?;
    let member = account(&member)?;
    with_sharing(&state, async |s| s.unshare(&notebook, &member).await).await?;
    state.sync().local_changes.notify_one();
    Ok(())
}

/// Leaves a notebook shared with this account: the notes stay here as
/// they are, nothing more comes or goes.
#[tauri::command]
pub async fn notebook_leave(state: State<'_, AppState>, notebook: String) -> AppResult<()> {
    validate_id(&notebook)?;
    with_sharing(&state, async |s| s.leave(&notebook).await).await?;
    state.sync().local_changes.notify_one();
    Ok(())
}
