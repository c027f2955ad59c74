//! The embedded store: s3s-fs, plus conditional reads.
//!
//! s3s-fs 0.14.1 ignores `If-None-Match` on GetObject and HeadObject, but
//! the sync reader polls each peer's `head` with exactly that and relies on
//! `304 Not Modified` to learn cheaply that nothing changed. This wrapper
//! delegates the operations Cairn uses to s3s-fs and answers 304 when the
//! stored object's ETag matches the condition (or on `*` when it exists),
//! as S3 does. Every other operation is refused as not implemented.

use s3s::dto::{
    CreateBucketInput, CreateBucketOutput, DeleteObjectInput, DeleteObjectOutput, ETag,
    ETagCondition, GetObjectInput, GetObjectOutput, HeadBucketInput, HeadBucketOutput,
    HeadObjectInput, HeadObjectOutput, ListBucketsInput, ListBucketsOutput, ListObjectsV2Input,
    ListObjectsV2Output, PutObjectInput, PutObjectOutput,
};
use s3s::{s3_error, S3Request, S3Response, S3Result, S3};
use s3s_fs::FileSystem;

pub struct ConditionalStore {
    inner: FileSystem,
}

impl ConditionalStore {
    pub fn new(inner: FileSystem) -> Self {
        ConditionalStore { inner }
    }
}

/// Whether `If-None-Match: condition` matches an object with `etag`
/// (weak comparison, RFC 9110 section 13.1.2).
fn none_match_hits(condition: &ETagCondition, etag: Option<&ETag>) -> bool {
    if condition.is_any() {
        return etag.is_some();
    }
    match (condition.as_etag(), etag) {
        (Some(wanted), Some(actual)) => wanted.weak_cmp(actual),
        _ => false,
    }
}

#[async_trait::async_trait]
impl S3 for ConditionalStore {
    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let condition = req.input.if_none_match.clone();
        let response = self.inner.get_object(req).await?;
        if let Some(condition) = condition {
            if none_match_hits(&condition, response.output.e_tag.as_ref()) {
                // The opened body is dropped unread.
                return Err(s3_error!(NotModified));
            }
        }
        Ok(response)
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let condition = req.input.if_none_match.clone();
        let response = self.inner.head_object(req).await?;
        if let Some(condition) = condition {
            if none_match_hits(&condition, response.output.e_tag.as_ref()) {
                return Err(s3_error!(NotModified));
            }
        }
        Ok(response)
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        self.inner.put_object(req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.inner.delete_object(req).await
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        self.inner.create_bucket(req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.inner.head_bucket(req).await
    }

    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        self.inner.list_buckets(req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.inner.list_objects_v2(req).await
    }
}
