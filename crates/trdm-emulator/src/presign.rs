//! Presigned URLs (part A §6): the emulator plays S3 on its own origin. A URL carries its expiry and an
//! HMAC-SHA256 over method, path and expiry; no bearer token is needed, and a bad or expired one gets a 403
//! with an S3-style XML body.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8], method: &str, path: &str, expires: i64) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    m.update(b"trdm-presign\0");
    m.update(method.as_bytes());
    m.update(b"\n");
    m.update(path.as_bytes());
    m.update(b"\n");
    m.update(expires.to_string().as_bytes());
    m
}

/// A URL for `method` on `path`, valid until `expires` (Unix seconds).
pub(crate) fn url(base: &str, key: &[u8], method: &str, path: &str, expires: i64) -> String {
    let signature = hex::encode(mac(key, method, path, expires).finalize().into_bytes());
    format!("{base}{path}?X-Trdm-Expires={expires}&X-Trdm-Signature={signature}")
}

/// Why a presigned request was refused.
#[derive(Debug)]
pub(crate) enum S3Error {
    SignatureDoesNotMatch,
    Expired,
    NoSuchKey(String),
    Conflict(String),
    TooLarge(u64),
    Internal(String),
}

impl IntoResponse for S3Error {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            S3Error::SignatureDoesNotMatch => (
                StatusCode::FORBIDDEN,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided."
                    .to_owned(),
            ),
            S3Error::Expired => (
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "Request has expired".to_owned(),
            ),
            S3Error::NoSuchKey(m) => (StatusCode::NOT_FOUND, "NoSuchKey", m),
            S3Error::Conflict(m) => (StatusCode::CONFLICT, "InvalidRequest", m),
            S3Error::TooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "EntityTooLarge",
                format!("Your proposed upload exceeds the maximum allowed size of {limit} bytes"),
            ),
            S3Error::Internal(m) => {
                tracing::error!(detail = %m, "presigned request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "We encountered an internal error.".to_owned(),
                )
            }
        };
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message></Error>",
            message.replace('&', "&amp;").replace('<', "&lt;")
        );
        (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
    }
}

/// Checks the signature and expiry in `query` for `method` on `path`.
pub(crate) fn verify(
    key: &[u8],
    method: &str,
    path: &str,
    query: &str,
    now_secs: i64,
) -> Result<(), S3Error> {
    let mut expires = None;
    let mut signature = None;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("X-Trdm-Expires", v)) => expires = v.parse::<i64>().ok(),
            Some(("X-Trdm-Signature", v)) => signature = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (Some(expires), Some(signature)) = (expires, signature) else {
        return Err(S3Error::SignatureDoesNotMatch);
    };
    mac(key, method, path, expires)
        .verify_slice(&signature)
        .map_err(|_| S3Error::SignatureDoesNotMatch)?;
    if now_secs >= expires {
        return Err(S3Error::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_method_path_and_expiry() {
        let key = b"k";
        let u = url("http://h", key, "PUT", "/_s3/uploads/1", 100);
        let query = u.split_once('?').unwrap().1;
        assert!(verify(key, "PUT", "/_s3/uploads/1", query, 99).is_ok());
        assert!(matches!(
            verify(key, "PUT", "/_s3/uploads/1", query, 100),
            Err(S3Error::Expired)
        ));
        assert!(matches!(
            verify(key, "GET", "/_s3/uploads/1", query, 0),
            Err(S3Error::SignatureDoesNotMatch)
        ));
        assert!(matches!(
            verify(key, "PUT", "/_s3/uploads/2", query, 0),
            Err(S3Error::SignatureDoesNotMatch)
        ));
        let later = query.replace("X-Trdm-Expires=100", "X-Trdm-Expires=200");
        assert!(matches!(
            verify(key, "PUT", "/_s3/uploads/1", &later, 150),
            Err(S3Error::SignatureDoesNotMatch)
        ));
    }
}
