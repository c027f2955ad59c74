//! Shared spaces on SQLite. An append's compare-and-swap is one
//! conditional update inside the transaction that stores the record, which
//! SQLite (and the registry's mutex) serialises.

use async_trait::async_trait;
use cairn_protocol::{DeviceId, SpaceId, UserId};
use rusqlite::{params, OptionalExtension, Transaction};

use super::SqliteRegistry;
use crate::registry::records::{parse_device, seq_to_db};
use crate::registry::space_rows::{
    head_from_columns, parse_space, parse_user, standing_columns, standing_from_columns,
};
use crate::registry::{NewRecord, SpaceMembership, SpaceOfUser, SpaceStore, Standing};
use crate::ServerError;

fn store_record(
    tx: &Transaction<'_>,
    space: &SpaceId,
    record: NewRecord<'_>,
    members: &[SpaceMembership],
    now: i64,
) -> Result<(), ServerError> {
    tx.execute(
        "INSERT INTO space_records (space_id, seq, bytes, hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![space.as_str(), seq_to_db(record.seq), record.bytes, record.hash, now],
    )?;
    tx.execute(
        "DELETE FROM space_members WHERE space_id = ?1",
        params![space.as_str()],
    )?;
    for m in members {
        let (standing, role, seq) = standing_columns(&m.standing);
        tx.execute(
            "INSERT INTO space_members (space_id, user_id, standing, role, seq) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![space.as_str(), m.user.as_str(), standing, role, seq],
        )?;
    }
    Ok(())
}

#[async_trait]
impl SpaceStore for SqliteRegistry {
    async fn create_space(
        &self,
        space: &SpaceId,
        owner: &UserId,
        record: NewRecord<'_>,
        members: &[SpaceMembership],
        now: i64,
    ) -> Result<bool, ServerError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let created = tx.execute(
            "INSERT OR IGNORE INTO spaces (space_id, owner, last_seq, last_hash, created_at) VALUES (?1, ?2, 0, ?3, ?4)",
            params![space.as_str(), owner.as_str(), record.hash, now],
        )?;
        if created != 1 {
            return Ok(false);
        }
        store_record(&tx, space, record, members, now)?;
        tx.commit()?;
        Ok(true)
    }

    async fn append_space_record(
        &self,
        space: &SpaceId,
        record: NewRecord<'_>,
        members: &[SpaceMembership],
        now: i64,
    ) -> Result<bool, ServerError> {
        let Some(previous) = record.seq.checked_sub(1) else {
            return Ok(false);
        };
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let moved = tx.execute(
            "UPDATE spaces SET last_seq = ?2, last_hash = ?3
             WHERE space_id = ?1 AND last_seq = ?4 AND last_hash = ?5",
            params![
                space.as_str(),
                seq_to_db(record.seq),
                record.hash,
                seq_to_db(previous),
                record.prev
            ],
        )?;
        if moved != 1 {
            return Ok(false);
        }
        store_record(&tx, space, record, members, now)?;
        tx.commit()?;
        Ok(true)
    }

    async fn space_records(
        &self,
        space: &SpaceId,
        after: Option<u64>,
        through: Option<u64>,
    ) -> Result<Vec<(u64, Vec<u8>)>, ServerError> {
        let after = after.map_or(-1, seq_to_db);
        let through = through.map_or(i64::MAX, seq_to_db);
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT seq, bytes FROM space_records
             WHERE space_id = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![space.as_str(), after, through], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, bytes) = row?;
            out.push((seq.unsigned_abs(), bytes));
        }
        Ok(out)
    }

    async fn standing(
        &self,
        space: &SpaceId,
        user: &UserId,
    ) -> Result<Option<Standing>, ServerError> {
        let row: Option<(String, String, i64)> = self
            .conn()?
            .query_row(
                "SELECT standing, role, seq FROM space_members WHERE space_id = ?1 AND user_id = ?2",
                params![space.as_str(), user.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        row.map(|(s, r, q)| standing_from_columns(&s, &r, q))
            .transpose()
    }

    async fn space_members(&self, space: &SpaceId) -> Result<Vec<SpaceMembership>, ServerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT user_id, standing, role, seq FROM space_members WHERE space_id = ?1 ORDER BY user_id",
        )?;
        let rows = stmt.query_map(params![space.as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (user, standing, role, seq) = row?;
            out.push(SpaceMembership {
                user: parse_user(&user)?,
                standing: standing_from_columns(&standing, &role, seq)?,
            });
        }
        Ok(out)
    }

    async fn spaces_of(&self, user: &UserId) -> Result<Vec<SpaceOfUser>, ServerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT s.space_id, s.owner, s.last_seq, s.last_hash, m.standing, m.role, m.seq
             FROM space_members m JOIN spaces s ON s.space_id = m.space_id
             WHERE m.user_id = ?1 AND m.standing IN ('member', 'invited')
             ORDER BY s.created_at, s.space_id",
        )?;
        let rows = stmt.query_map(params![user.as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (space, owner, last_seq, last_hash, standing, role, seq) = row?;
            out.push(SpaceOfUser {
                space: parse_space(&space)?,
                head: head_from_columns(&owner, last_seq, last_hash)?,
                standing: standing_from_columns(&standing, &role, seq)?,
            });
        }
        Ok(out)
    }

    async fn record_space_published(
        &self,
        space: &SpaceId,
        user: &UserId,
        id: &DeviceId,
        seq: u64,
    ) -> Result<(), ServerError> {
        self.conn()?.execute(
            "INSERT INTO space_published (space_id, user_id, device_id, seq) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (space_id, device_id) DO UPDATE SET seq = MAX(seq, excluded.seq)",
            params![space.as_str(), user.as_str(), id.as_str(), seq_to_db(seq)],
        )?;
        Ok(())
    }

    async fn space_published_seqs(
        &self,
        space: &SpaceId,
    ) -> Result<Vec<(DeviceId, u64)>, ServerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT device_id, seq FROM space_published WHERE space_id = ?1 ORDER BY device_id",
        )?;
        let rows = stmt.query_map(params![space.as_str()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (device, seq) = row?;
            out.push((parse_device(&device)?, seq.unsigned_abs()));
        }
        Ok(out)
    }
}
