//! Reading a request body under the size limit. An oversized body is read to its end (and
//! dropped) before the 413 is sent: answering while the client is still sending makes an
//! HTTP/2 server reset the stream, and clients (curl, kube-rs over h2) then report a bare
//! stream error instead of the Status.

use std::time::Duration;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use super::MAX_BODY;
use crate::error::ApiError;

/// How much of an oversized body is drained before giving up on a clean answer.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;
/// How long draining may take.
const DRAIN_TIME: Duration = Duration::from_secs(10);

fn too_large() -> ApiError {
    ApiError::new(
        413,
        "RequestEntityTooLarge",
        format!(
            "the request body is larger than the limit of {MAX_BODY} bytes; send a smaller object (large data belongs outside the Kubernetes API)"
        ),
    )
}

/// The body, or a 413 Status once it passes [`MAX_BODY`].
pub async fn read(body: Body) -> Result<Bytes, ApiError> {
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::bad_request(format!("the request body cannot be read: {e}")))?;
        if buf.len() + chunk.len() > MAX_BODY {
            let mut seen = buf.len() + chunk.len();
            drop(buf);
            let drain = async {
                while let Some(Ok(c)) = stream.next().await {
                    seen += c.len();
                    if seen > DRAIN_LIMIT {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}
