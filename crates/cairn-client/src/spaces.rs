//! The shared-space routes, for a device: create a space, list mine and my
//! invitations, append and read membership records, a space grant and
//! "I published seq N there".
//!
//! Records go out and come back as the core's [`Record`]s, their exact
//! bytes on the wire. What comes back is only decoded here, not trusted:
//! the caller verifies the chain with its pins and checkpoint
//! (`cairn_core::space::chain`), since the service could serve an old or
//! altered one.

use cairn_core::space::epoch::SpaceId as ChainSpaceId;
use cairn_core::space::record::Record;
use cairn_protocol::{
    AppendRecordRequest, CreateSpaceRequest, DeviceId, MySpaces, PublishedRequest, PutSpaceLabel,
    RecordAppended, RecordBytes, SpaceGrant, SpaceId, SpaceRecords,
};
use reqwest::Method;

use crate::{ClientError, ServiceClient};

/// The wire id of a space.
pub fn wire_space_id(space: &ChainSpaceId) -> Result<SpaceId, ClientError> {
    SpaceId::parse(&space.to_string()).map_err(|e| ClientError::UnexpectedResponse {
        url: String::new(),
        message: e.to_string(),
    })
}

impl ServiceClient {
    /// Creates the space `genesis` (record 0, signed by this user) names.
    pub async fn create_space(
        &self,
        access_token: &str,
        genesis: &Record,
    ) -> Result<RecordAppended, ClientError> {
        let request = CreateSpaceRequest {
            space_id: wire_space_id(&genesis.body.space)?,
            record: RecordBytes::encode(&genesis.encode()),
        };
        self.call(
            Method::POST,
            "v1/spaces",
            Some(access_token),
            Some(&request),
        )
        .await
    }

    /// This user's spaces and pending invitations.
    pub async fn my_spaces(&self, access_token: &str) -> Result<MySpaces, ClientError> {
        self.call(Method::GET, "v1/spaces", Some(access_token), None::<&()>)
            .await
    }

    /// Appends `record` after the record it names. Another record that
    /// landed first is `record_conflict` (409): read the new records,
    /// verify them, and sign again on top.
    pub async fn append_record(
        &self,
        access_token: &str,
        record: &Record,
    ) -> Result<RecordAppended, ClientError> {
        let space = wire_space_id(&record.body.space)?;
        let request = AppendRecordRequest {
            seq: record.body.seq,
            prev: hex::encode(record.body.prev),
            record: RecordBytes::encode(&record.encode()),
        };
        self.call(
            Method::POST,
            &format!("v1/spaces/{space}/records"),
            Some(access_token),
            Some(&request),
        )
        .await
    }

    /// The space's records numbered above `after` (all without it),
    /// decoded but not verified.
    pub async fn space_records(
        &self,
        access_token: &str,
        space: &SpaceId,
        after: Option<u64>,
    ) -> Result<Vec<Record>, ClientError> {
        let path = match after {
            Some(n) => format!("v1/spaces/{space}/records?after={n}"),
            None => format!("v1/spaces/{space}/records"),
        };
        let answer: SpaceRecords = self
            .call(Method::GET, &path, Some(access_token), None::<&()>)
            .await?;
        let unreadable = |seq: u64, why: String| ClientError::UnexpectedResponse {
            url: path.clone(),
            message: format!("membership record {seq}: {why}"),
        };
        answer
            .records
            .iter()
            .map(|stored| {
                let bytes = stored
                    .record
                    .decode()
                    .ok_or_else(|| unreadable(stored.seq, "not base64url".to_owned()))?;
                let record =
                    Record::decode(&bytes).map_err(|e| unreadable(stored.seq, e.to_string()))?;
                if record.body.seq != stored.seq {
                    return Err(unreadable(
                        stored.seq,
                        format!("it says it is number {}", record.body.seq),
                    ));
                }
                Ok(record)
            })
            .collect()
    }

    /// Sets the space's sealed label (the owner only).
    pub async fn put_space_label(
        &self,
        access_token: &str,
        space: &SpaceId,
        label: &[u8],
    ) -> Result<(), ClientError> {
        self.call_no_content(
            Method::PUT,
            &format!("v1/spaces/{space}/label"),
            access_token,
            Some(&PutSpaceLabel {
                label: RecordBytes::encode(label).0,
            }),
        )
        .await
    }

    /// Presigned URLs for device `id` in `space`.
    pub async fn space_grant(
        &self,
        access_token: &str,
        space: &SpaceId,
        id: &DeviceId,
    ) -> Result<SpaceGrant, ClientError> {
        self.call(
            Method::POST,
            &format!("v1/spaces/{space}/devices/{id}/grant"),
            Some(access_token),
            None::<&()>,
        )
        .await
    }

    /// Tells the space's members that device `id` committed head `seq`.
    pub async fn report_space_published(
        &self,
        access_token: &str,
        space: &SpaceId,
        id: &DeviceId,
        seq: u64,
    ) -> Result<(), ClientError> {
        self.call_no_content(
            Method::POST,
            &format!("v1/spaces/{space}/devices/{id}/published"),
            access_token,
            Some(&PublishedRequest { seq }),
        )
        .await
    }
}
