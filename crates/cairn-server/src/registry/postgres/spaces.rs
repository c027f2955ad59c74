//! Shared spaces on PostgreSQL. An append's compare-and-swap is a
//! conditional update of the space's row: of two appends racing on one
//! space, the second waits for the first's row lock, then finds the newest
//! record moved and stores nothing.

use async_trait::async_trait;
use cairn_protocol::{DeviceId, SpaceId, UserId};
use sqlx::{Postgres, Transaction};

use super::PostgresRegistry;
use crate::registry::records::{parse_device, seq_to_db};
use crate::registry::space_rows::{
    head_from_columns, parse_space, parse_user, standing_columns, standing_from_columns,
};
use crate::registry::{NewRecord, SpaceMembership, SpaceOfUser, SpaceStore, Standing};
use crate::ServerError;

async fn store_record(
    tx: &mut Transaction<'_, Postgres>,
    space: &SpaceId,
    record: NewRecord<'_>,
    members: &[SpaceMembership],
    now: i64,
) -> Result<(), ServerError> {
    sqlx::query(
        "INSERT INTO space_records (space_id, seq, bytes, hash, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(space.as_str())
    .bind(seq_to_db(record.seq))
    .bind(record.bytes)
    .bind(record.hash)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM space_members WHERE space_id = $1")
        .bind(space.as_str())
        .execute(&mut **tx)
        .await?;
    for m in members {
        let (standing, role, seq) = standing_columns(&m.standing);
        sqlx::query(
            "INSERT INTO space_members (space_id, user_id, standing, role, seq) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(space.as_str())
        .bind(m.user.as_str())
        .bind(standing)
        .bind(role)
        .bind(seq)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl SpaceStore for PostgresRegistry {
    async fn create_space(
        &self,
        space: &SpaceId,
        owner: &UserId,
        record: NewRecord<'_>,
        members: &[SpaceMembership],
        now: i64,
    ) -> Result<bool, ServerError> {
        let mut tx = self.pool().begin().await?;
        let created = sqlx::query(
            "INSERT INTO spaces (space_id, owner, last_seq, last_hash, created_at) VALUES ($1, $2, 0, $3, $4)
             ON CONFLICT (space_id) DO NOTHING",
        )
        .bind(space.as_str())
        .bind(owner.as_str())
        .bind(record.hash)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if created != 1 {
            return Ok(false);
        }
        store_record(&mut tx, space, record, members, now).await?;
        tx.commit().await?;
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
        let mut tx = self.pool().begin().await?;
        let moved = sqlx::query(
            "UPDATE spaces SET last_seq = $2, last_hash = $3
             WHERE space_id = $1 AND last_seq = $4 AND last_hash = $5",
        )
        .bind(space.as_str())
        .bind(seq_to_db(record.seq))
        .bind(record.hash)
        .bind(seq_to_db(previous))
        .bind(record.prev)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved != 1 {
            return Ok(false);
        }
        store_record(&mut tx, space, record, members, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn space_records(
        &self,
        space: &SpaceId,
        after: Option<u64>,
        through: Option<u64>,
    ) -> Result<Vec<(u64, Vec<u8>)>, ServerError> {
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT seq, bytes FROM space_records
             WHERE space_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
        )
        .bind(space.as_str())
        .bind(after.map_or(-1, seq_to_db))
        .bind(through.map_or(i64::MAX, seq_to_db))
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(seq, bytes)| (seq.unsigned_abs(), bytes))
            .collect())
    }

    async fn standing(
        &self,
        space: &SpaceId,
        user: &UserId,
    ) -> Result<Option<Standing>, ServerError> {
        let row: Option<(String, String, i64)> = sqlx::query_as(
            "SELECT standing, role, seq FROM space_members WHERE space_id = $1 AND user_id = $2",
        )
        .bind(space.as_str())
        .bind(user.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.map(|(s, r, q)| standing_from_columns(&s, &r, q))
            .transpose()
    }

    async fn space_members(&self, space: &SpaceId) -> Result<Vec<SpaceMembership>, ServerError> {
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT user_id, standing, role, seq FROM space_members WHERE space_id = $1 ORDER BY user_id",
        )
        .bind(space.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(user, standing, role, seq)| {
                Ok(SpaceMembership {
                    user: parse_user(&user)?,
                    standing: standing_from_columns(&standing, &role, seq)?,
                })
            })
            .collect()
    }

    async fn spaces_of(&self, user: &UserId) -> Result<Vec<SpaceOfUser>, ServerError> {
        type Row = (String, String, i64, String, String, String, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT s.space_id, s.owner, s.last_seq, s.last_hash, m.standing, m.role, m.seq
             FROM space_members m JOIN spaces s ON s.space_id = m.space_id
             WHERE m.user_id = $1 AND m.standing IN ('member', 'invited')
             ORDER BY s.created_at, s.space_id",
        )
        .bind(user.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(space, owner, last_seq, last_hash, standing, role, seq)| {
                Ok(SpaceOfUser {
                    space: parse_space(&space)?,
                    head: head_from_columns(&owner, last_seq, last_hash)?,
                    standing: standing_from_columns(&standing, &role, seq)?,
                })
            })
            .collect()
    }

    async fn record_space_published(
        &self,
        space: &SpaceId,
        user: &UserId,
        id: &DeviceId,
        seq: u64,
    ) -> Result<(), ServerError> {
        sqlx::query(
            "INSERT INTO space_published (space_id, user_id, device_id, seq) VALUES ($1, $2, $3, $4)
             ON CONFLICT (space_id, device_id)
             DO UPDATE SET seq = GREATEST(space_published.seq, EXCLUDED.seq)",
        )
        .bind(space.as_str())
        .bind(user.as_str())
        .bind(id.as_str())
        .bind(seq_to_db(seq))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn space_published_seqs(
        &self,
        space: &SpaceId,
    ) -> Result<Vec<(DeviceId, u64)>, ServerError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT device_id, seq FROM space_published WHERE space_id = $1 ORDER BY device_id",
        )
        .bind(space.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(device, seq)| Ok((parse_device(&device)?, seq.unsigned_abs())))
            .collect()
    }
}
