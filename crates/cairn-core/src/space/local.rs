//! The shared spaces this device knows, kept in its store: per space the
//! notebook it shares, this account's standing and role, the verified
//! chain (its records' exact bytes and the checkpoint) and the epoch keys
//! this account holds (see migration 10 for how they are protected).
//!
//! Which space a note belongs to is derived, never stored: the space whose
//! notebook is the note's notebook or one of its ancestors. Notebooks
//! nest, shares do not: a notebook inside a shared one cannot be shared
//! on its own (the caller refuses it), so a note has at most one space.
//!
//! The store keeps what the caller verified; it verifies nothing itself
//! (`crate::space::chain` does, with the pins and the checkpoint).

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension};

use crate::error::{CoreError, Result};
use crate::space::chain::{Checkpoint, SpaceState};
use crate::space::epoch::{Epoch, EpochKey, SpaceId};
use crate::space::record::{Record, Role};
use crate::store::{sql_err, Store};
use cairn_protocol::UserId;

/// Where this account stands in a space, as its verified chain says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Invited, neither accepted nor declined.
    Invited,
    Member,
    /// Removed, left, or declined: what was read stays, nothing new comes.
    Departed,
}

impl Standing {
    fn as_str(self) -> &'static str {
        match self {
            Standing::Invited => "invited",
            Standing::Member => "member",
            Standing::Departed => "departed",
        }
    }

    fn parse(value: &str) -> Option<Standing> {
        match value {
            "invited" => Some(Standing::Invited),
            "member" => Some(Standing::Member),
            "departed" => Some(Standing::Departed),
            _ => None,
        }
    }
}

fn role_str(role: Role) -> &'static str {
    match role {
        Role::Owner => "owner",
        Role::Editor => "editor",
        Role::Viewer => "viewer",
    }
}

fn parse_role(value: &str) -> Option<Role> {
    match value {
        "owner" => Some(Role::Owner),
        "editor" => Some(Role::Editor),
        "viewer" => Some(Role::Viewer),
        _ => None,
    }
}

/// A space as this device knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSpace {
    pub space: SpaceId,
    /// The shared notebook's id; `None` while an invitee has not learnt it.
    pub notebook: Option<String>,
    pub standing: Standing,
    /// The role given (by the invitation, while invited).
    pub role: Role,
    /// The newest record verified.
    pub checkpoint: Checkpoint,
    /// The invite record's number, while invited.
    pub invitation: Option<u64>,
    /// The notebook's name as the owner sealed it for invitees.
    pub label: Option<String>,
}

impl LocalSpace {
    /// This account's place in a verified chain.
    pub fn from_state(
        state: &SpaceState,
        me: &UserId,
        notebook: Option<String>,
        label: Option<String>,
    ) -> LocalSpace {
        let (standing, role, invitation) = if let Some(m) = state.members.get(me) {
            (Standing::Member, m.role, None)
        } else if let Some(i) = state.invitations.get(me) {
            (Standing::Invited, i.role, Some(i.seq))
        } else {
            (Standing::Departed, Role::Viewer, None)
        };
        LocalSpace {
            space: state.space,
            notebook,
            standing,
            role,
            checkpoint: state.last,
            invitation,
            label,
        }
    }

    /// Whether this account's devices publish in the space.
    pub fn writes(&self) -> bool {
        self.standing == Standing::Member && self.role.can_write()
    }
}

fn bad_row(what: &str) -> CoreError {
    CoreError::Invalid {
        what: "stored space",
        reason: what.to_owned(),
    }
}

type Row = (
    String,
    Option<String>,
    String,
    String,
    i64,
    String,
    Option<i64>,
    Option<String>,
);

fn from_row(row: Row) -> Result<LocalSpace> {
    let (space, notebook, standing, role, seq, hash, invitation, label) = row;
    let mut h = [0u8; 32];
    hex::decode_to_slice(&hash, &mut h).map_err(|_| bad_row("checkpoint hash"))?;
    Ok(LocalSpace {
        space: SpaceId::parse(&space).map_err(|_| bad_row("space id"))?,
        notebook,
        standing: Standing::parse(&standing).ok_or_else(|| bad_row("standing"))?,
        role: parse_role(&role).ok_or_else(|| bad_row("role"))?,
        checkpoint: Checkpoint {
            seq: seq as u64,
            hash: h,
        },
        invitation: invitation.map(|i| i as u64),
        label,
    })
}

const COLUMNS: &str =
    "space_id, notebook, standing, role, checkpoint_seq, checkpoint_hash, invitation, label";

impl Store {
    /// Every space this device knows, by id.
    pub fn local_spaces(&self) -> Result<Vec<LocalSpace>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM space ORDER BY space_id"))
            .map_err(sql_err("reading spaces", &self.path))?;
        let rows: Vec<Row> = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })
            .and_then(|r| r.collect())
            .map_err(sql_err("reading spaces", &self.path))?;
        rows.into_iter().map(from_row).collect()
    }

    pub fn local_space(&self, space: &SpaceId) -> Result<Option<LocalSpace>> {
        Ok(self.local_spaces()?.into_iter().find(|s| s.space == *space))
    }

    /// The stored records of `space`, in order.
    pub fn local_space_records(&self, space: &SpaceId) -> Result<Vec<Record>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT bytes FROM space_record WHERE space_id = ?1 ORDER BY seq")
            .map_err(sql_err("reading membership records", &self.path))?;
        let rows: Vec<Vec<u8>> = stmt
            .query_map([space.to_string()], |r| r.get(0))
            .and_then(|r| r.collect())
            .map_err(sql_err("reading membership records", &self.path))?;
        rows.iter()
            .map(|b| {
                Record::decode(b).map_err(|e| CoreError::Invalid {
                    what: "stored membership record",
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    /// Keeps a verified chain: the space's row and its records, in one
    /// transaction (records already kept stay as they are).
    pub fn save_local_space(&mut self, space: &LocalSpace, records: &[Record]) -> Result<()> {
        let path = self.path.clone();
        let err = sql_err("keeping a space", &path);
        let tx = self.conn.transaction().map_err(&err)?;
        tx.execute(
            &format!(
                "INSERT INTO space({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT(space_id) DO UPDATE SET notebook = excluded.notebook,
                   standing = excluded.standing, role = excluded.role,
                   checkpoint_seq = excluded.checkpoint_seq,
                   checkpoint_hash = excluded.checkpoint_hash,
                   invitation = excluded.invitation,
                   label = coalesce(excluded.label, space.label)"
            ),
            params![
                space.space.to_string(),
                space.notebook,
                space.standing.as_str(),
                role_str(space.role),
                space.checkpoint.seq as i64,
                hex::encode(space.checkpoint.hash),
                space.invitation.map(|i| i as i64),
                space.label,
            ],
        )
        .map_err(&err)?;
        for r in records {
            tx.execute(
                "INSERT OR IGNORE INTO space_record(space_id, seq, bytes) VALUES (?1, ?2, ?3)",
                params![space.space.to_string(), r.body.seq as i64, r.encode()],
            )
            .map_err(&err)?;
        }
        // The space's notebook may be new here: the notebook rows now
        // include its tree (`space::tree`).
        crate::notebooks::write_tree(&tx, None, &path)?;
        tx.commit().map_err(&err)
    }

    /// Keeps the key of `epoch` of `space` (the space must be kept).
    pub fn save_epoch_key(&mut self, space: &SpaceId, epoch: Epoch, key: &EpochKey) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO space_key(space_id, epoch, key) VALUES (?1, ?2, ?3)",
                params![space.to_string(), epoch.0 as i64, key.as_bytes().to_vec()],
            )
            .map_err(sql_err("keeping an epoch key", &self.path))?;
        Ok(())
    }

    /// The epoch keys held for `space`.
    pub fn epoch_keys(&self, space: &SpaceId) -> Result<BTreeMap<Epoch, EpochKey>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT epoch, key FROM space_key WHERE space_id = ?1")
            .map_err(sql_err("reading epoch keys", &self.path))?;
        let rows: Vec<(i64, Vec<u8>)> = stmt
            .query_map([space.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|r| r.collect())
            .map_err(sql_err("reading epoch keys", &self.path))?;
        rows.into_iter()
            .map(|(epoch, key)| {
                let key = EpochKey::from_bytes(&key).map_err(|_| bad_row("epoch key"))?;
                Ok((Epoch(epoch as u64), key))
            })
            .collect()
    }

    /// The one space id `sql` finds for `notebook`, if any.
    fn space_found(&self, sql: &str, notebook: &str, op: &'static str) -> Result<Option<SpaceId>> {
        let found: Option<String> = self
            .conn
            .query_row(sql, [notebook], |r| r.get(0))
            .optional()
            .map_err(sql_err(op, &self.path))?;
        found
            .map(|s| SpaceId::parse(&s).map_err(|_| bad_row("space id")))
            .transpose()
    }

    /// The space `notebook` belongs to: that of the nearest ancestor (or
    /// itself) that a space this account is a member of shares (an
    /// invitation, or a space left, claims no notebook).
    pub fn space_of_notebook(&self, notebook: &str) -> Result<Option<SpaceId>> {
        self.space_found(
            "WITH RECURSIVE up(id, parent, depth) AS (
               SELECT id, parent, 0 FROM notebook WHERE id = ?1
               UNION ALL
               SELECT n.id, n.parent, up.depth + 1 FROM notebook n JOIN up ON n.id = up.parent
               WHERE up.depth < 1000
             )
             SELECT s.space_id FROM up JOIN space s ON s.notebook = up.id
             WHERE s.standing = 'member'
             ORDER BY up.depth LIMIT 1",
            notebook,
            "finding a notebook's space",
        )
    }

    /// The space that shares `notebook` itself (not an ancestor of it).
    pub fn space_sharing(&self, notebook: &str) -> Result<Option<SpaceId>> {
        self.space_found(
            "SELECT space_id FROM space WHERE notebook = ?1 AND standing = 'member'",
            notebook,
            "finding a notebook's space",
        )
    }

    /// A space shared from a notebook strictly below `notebook`, if any:
    /// sharing `notebook` then would nest one share in another.
    pub fn space_below(&self, notebook: &str) -> Result<Option<SpaceId>> {
        self.space_found(
            "WITH RECURSIVE down(id, depth) AS (
               SELECT id, 0 FROM notebook WHERE parent = ?1
               UNION ALL
               SELECT n.id, down.depth + 1 FROM notebook n JOIN down ON n.parent = down.id
               WHERE down.depth < 1000
             )
             SELECT s.space_id FROM down JOIN space s ON s.notebook = down.id
             WHERE s.standing = 'member' LIMIT 1",
            notebook,
            "finding shared notebooks below",
        )
    }

    /// The space a note belongs to, from its notebook.
    pub fn space_of_note(&self, note_id: &str) -> Result<Option<SpaceId>> {
        let notebook: Option<String> = self
            .conn
            .query_row(
                "SELECT notebook FROM note_place WHERE note_id = ?1",
                [note_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_err("finding a note's notebook", &self.path))?;
        match notebook {
            Some(n) => self.space_of_notebook(&n),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::chain::tests::shared;
    use crate::space::identity::tests::user;

    #[test]
    fn a_space_is_kept_with_its_chain_and_keys_and_notes_find_it_by_notebook() {
        let dir = tempfile::tempdir().unwrap();
        let (_, s) = shared();
        let state = s.state().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let trips = store.create_notebook("Trips", None).unwrap();
        let rome = store.create_notebook("Rome", Some(&trips)).unwrap();
        let other = store.create_notebook("Other", None).unwrap();
        let in_rome = store.create_note("Colosseum").unwrap();
        store.move_note(&in_rome, Some(&rome)).unwrap();
        let outside = store.create_note("Mine").unwrap();
        store.move_note(&outside, Some(&other)).unwrap();
        let unfiled = store.create_note("Loose").unwrap();

        let local = LocalSpace::from_state(&state, &user("bob"), Some(trips.clone()), None);
        assert_eq!(local.standing, Standing::Member);
        assert_eq!(local.role, Role::Editor);
        assert!(local.writes());
        store.save_local_space(&local, &s.records).unwrap();
        store.save_epoch_key(&s.id, Epoch::FIRST, &s.key).unwrap();
        drop(store);

        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(store.local_spaces().unwrap(), vec![local.clone()]);
        assert_eq!(store.local_space_records(&s.id).unwrap(), s.records);
        assert_eq!(store.epoch_keys(&s.id).unwrap()[&Epoch::FIRST], s.key);
        assert_eq!(store.space_of_notebook(&trips).unwrap(), Some(s.id));
        assert_eq!(store.space_of_notebook(&rome).unwrap(), Some(s.id));
        assert_eq!(store.space_of_notebook(&other).unwrap(), None);
        assert_eq!(store.space_of_note(&in_rome).unwrap(), Some(s.id));
        assert_eq!(store.space_of_note(&outside).unwrap(), None);
        assert_eq!(store.space_of_note(&unfiled).unwrap(), None);
        assert_eq!(store.space_below(&trips).unwrap(), None);
        let top = store.create_notebook("Top", None).unwrap();
        store.move_notebook(&trips, Some(&top)).unwrap();
        assert_eq!(store.space_below(&top).unwrap(), Some(s.id));
        assert_eq!(store.space_of_notebook(&top).unwrap(), None);

        // An invitation (or a space left) claims no notebook.
        let holder = store.create_notebook("Holder", None).unwrap();
        store.move_notebook(&other, Some(&holder)).unwrap();
        let mut invited = LocalSpace::from_state(&state, &user("dave"), Some(other.clone()), None);
        invited.space = SpaceId::generate();
        for standing in [Standing::Invited, Standing::Departed] {
            invited.standing = standing;
            store.save_local_space(&invited, &[]).unwrap();
            assert_eq!(store.space_of_notebook(&other).unwrap(), None);
            assert_eq!(store.space_below(&holder).unwrap(), None);
        }
        invited.standing = Standing::Member;
        store.save_local_space(&invited, &[]).unwrap();
        assert_eq!(
            store.space_of_notebook(&other).unwrap(),
            Some(invited.space)
        );
        assert_eq!(store.space_below(&holder).unwrap(), Some(invited.space));

        // Carol is a viewer: a member who does not write.
        let carol = LocalSpace::from_state(&state, &user("carol"), None, None);
        assert_eq!(
            (carol.standing, carol.role),
            (Standing::Member, Role::Viewer)
        );
        assert!(!carol.writes());
        // Dave was never in it.
        let dave = LocalSpace::from_state(&state, &user("dave"), None, None);
        assert_eq!(dave.standing, Standing::Departed);
        assert!(!dave.writes());
    }

    #[test]
    fn a_note_goes_to_its_nearest_share_only_and_shares_do_not_nest() {
        let dir = tempfile::tempdir().unwrap();
        let (_, s) = shared();
        let state = s.state().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let outer = store.create_notebook("Family", None).unwrap();
        let inner = store
            .create_notebook("Surprise party", Some(&outer))
            .unwrap();
        let loose = store.create_notebook("Loose", None).unwrap();
        let holder = store.create_notebook("Holder", None).unwrap();
        let held = store.create_notebook("Held", Some(&holder)).unwrap();
        let family_note = store.create_note("Groceries").unwrap();
        store.move_note(&family_note, Some(&outer)).unwrap();
        let secret = store.create_note("Gift for mum").unwrap();
        store.move_note(&secret, Some(&inner)).unwrap();
        let mut bind = |notebook: &str| {
            let mut local =
                LocalSpace::from_state(&state, &user("bob"), Some(notebook.into()), None);
            local.space = SpaceId::generate();
            store.save_local_space(&local, &[]).unwrap();
            local.space
        };
        // Nested as a concurrent move on two devices could leave them.
        let (family, party) = (bind(&outer), bind(&inner));
        let other = bind(&loose);
        let deep = bind(&held);

        assert_eq!(
            store.space_notes(&outer).unwrap(),
            vec![family_note.clone()]
        );
        assert_eq!(store.space_notes(&inner).unwrap(), vec![secret.clone()]);
        assert_eq!(store.space_of_note(&secret).unwrap(), Some(party));
        assert_eq!(store.space_of_note(&family_note).unwrap(), Some(family));

        // A shared notebook, or one holding a shared one, does not move
        // into another shared notebook; other moves go on.
        for (id, parent) in [(&loose, &outer), (&holder, &outer), (&held, &inner)] {
            let err = store.move_notebook(id, Some(parent)).unwrap_err();
            assert!(matches!(err, CoreError::SharedInShared { .. }), "{err}");
            assert!(err.to_string().contains("cannot go inside another shared"));
        }
        assert_eq!(store.space_of_notebook(&loose).unwrap(), Some(other));
        assert_eq!(store.space_of_notebook(&held).unwrap(), Some(deep));
        let plain = store.create_notebook("Plain", None).unwrap();
        store.move_notebook(&plain, Some(&outer)).unwrap();
        store.move_notebook(&loose, Some(&plain)).unwrap_err();
        store.move_notebook(&plain, None).unwrap();
        store.move_notebook(&loose, Some(&plain)).unwrap();
        store.move_notebook(&holder, Some(&plain)).unwrap();
    }
}
