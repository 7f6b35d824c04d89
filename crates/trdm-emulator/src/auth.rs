//! OAuth2 client credentials (part A §2): the token endpoint and the bearer check on every API request.
//!
//! Tokens are self-contained: 256 random bits plus the application, its scopes and the expiry, signed with
//! HMAC-SHA256 under the emulator's persistent key. Checking one needs no database, so a long import holding
//! the write lock never delays authentication, and tokens stay valid across restarts on the same `--db`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::Deserialize;
use serde_json::{Value as Json_, json};
use sha2::{Digest, Sha256};

use crate::decisions;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

type HmacSha256 = Hmac<Sha256>;
const MAC_LEN: usize = 32;
const NONCE_LEN: usize = 32;

/// The application behind a verified token, put in request extensions by [`authorize`].
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    #[allow(dead_code)]
    pub(crate) app_id: i64,
    /// The scopes the token grants.
    pub(crate) scopes: Vec<String>,
}

impl Caller {
    /// Whether the token may be handed presigned upload URLs ([`decisions::UPLOAD_URL_SCOPE`]).
    pub(crate) fn may_upload(&self) -> bool {
        decisions::scope_satisfies(&self.scopes, decisions::UPLOAD_URL_SCOPE)
    }
}

/// Hex SHA-256 of a client secret: secrets are stored hashed, as the real service does.
pub(crate) fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn mac(key: &[u8], data: &[u8]) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    m.update(b"trdm-token\0");
    m.update(data);
    m
}

fn mint(key: &[u8], app_id: i64, scopes: &str, expires_at: i64) -> String {
    let mut payload = Vec::with_capacity(NONCE_LEN + 17 + scopes.len() + MAC_LEN);
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    payload.extend_from_slice(&nonce);
    payload.extend_from_slice(&app_id.to_le_bytes());
    payload.extend_from_slice(&expires_at.to_le_bytes());
    payload.extend_from_slice(scopes.as_bytes());
    let tag = mac(key, &payload).finalize().into_bytes();
    payload.extend_from_slice(&tag);
    URL_SAFE_NO_PAD.encode(payload)
}

enum TokenCheck {
    Valid { app_id: i64, scopes: Vec<String> },
    Invalid,
    Expired,
}

fn check(key: &[u8], token: &str, now_secs: i64) -> TokenCheck {
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(token.trim()) else {
        return TokenCheck::Invalid;
    };
    if bytes.len() < NONCE_LEN + 16 + MAC_LEN {
        return TokenCheck::Invalid;
    }
    let (payload, tag) = bytes.split_at(bytes.len() - MAC_LEN);
    if mac(key, payload).verify_slice(tag).is_err() {
        return TokenCheck::Invalid;
    }
    let app_id = i64::from_le_bytes(
        payload[NONCE_LEN..NONCE_LEN + 8]
            .try_into()
            .expect("8 bytes"),
    );
    let expires_at = i64::from_le_bytes(
        payload[NONCE_LEN + 8..NONCE_LEN + 16]
            .try_into()
            .expect("8 bytes"),
    );
    if now_secs >= expires_at {
        return TokenCheck::Expired;
    }
    let scopes = String::from_utf8_lossy(&payload[NONCE_LEN + 16..])
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    TokenCheck::Valid { app_id, scopes }
}

#[derive(Debug, Default, Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

fn oauth(status: StatusCode, error: &'static str, description: impl Into<String>) -> ApiError {
    ApiError::OAuth {
        status,
        error,
        description: description.into(),
    }
}

/// `POST /oauth/token`: form body (or JSON), client credentials in the body or in HTTP Basic.
pub(crate) async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Json_>> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let mut req: TokenRequest = if body.is_empty() {
        TokenRequest::default()
    } else if is_json {
        serde_json::from_slice(&body)
            .map_err(|e| oauth(StatusCode::BAD_REQUEST, "invalid_request", e.to_string()))?
    } else {
        serde_urlencoded::from_bytes(&body)
            .map_err(|e| oauth(StatusCode::BAD_REQUEST, "invalid_request", e.to_string()))?
    };
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let decoded = STANDARD
            .decode(basic.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                oauth(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "malformed HTTP Basic credentials",
                )
            })?;
        let (id, secret) = decoded.split_once(':').ok_or_else(|| {
            oauth(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "malformed HTTP Basic credentials",
            )
        })?;
        req.client_id = Some(id.to_owned());
        req.client_secret = Some(secret.to_owned());
    }
    match req.grant_type.as_deref() {
        Some("client_credentials") => {}
        None => {
            return Err(oauth(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            ));
        }
        Some(_) => {
            return Err(oauth(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only the client_credentials grant is supported",
            ));
        }
    }
    let (Some(client_id), Some(secret)) = (req.client_id, req.client_secret) else {
        return Err(oauth(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client_id and client_secret are required",
        ));
    };
    let lookup_id = client_id.clone();
    let app = state
        .db
        .catalog(move |c| crate::store::application_by_client_id(c, &lookup_id))
        .await?
        .filter(|app| app.secret_sha256 == hash_secret(&secret))
        .ok_or_else(|| {
            oauth(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
            )
        })?;
    let scopes: Vec<String> = match req.scope.as_deref().map(str::trim) {
        None | Some("") => app.scopes.clone(),
        Some(requested) => {
            let requested: Vec<String> = requested.split_whitespace().map(str::to_owned).collect();
            let allowed = |s: &String| {
                app.scopes
                    .iter()
                    .any(|a| a == s || a == decisions::SCOPE_ALL)
            };
            if let Some(bad) = requested.iter().find(|s| !allowed(s)) {
                return Err(oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    format!("The requested scope {bad} is invalid, unknown, or malformed."),
                ));
            }
            requested
        }
    };
    let scope_text = scopes.join(" ");
    let now = crate::time::now() / 1_000_000;
    let ttl = state.config.token_ttl.as_secs() as i64;
    let access_token = mint(&state.signing_key[..], app.id, &scope_text, now + ttl);
    Ok(Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ttl,
        "scope": scope_text,
        "created_at": now,
    })))
}

/// Middleware on `/api`: checks the bearer token and the scope the request needs.
pub(crate) async fn authorize(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or_else(|| ApiError::Unauthorized("a Bearer access token is required".into()))?;
    let now = crate::time::now() / 1_000_000;
    match check(&state.signing_key[..], token, now) {
        TokenCheck::Invalid => Err(ApiError::Unauthorized("the access token is invalid".into())),
        TokenCheck::Expired => Err(ApiError::Unauthorized("the access token expired".into())),
        TokenCheck::Valid { app_id, scopes } => {
            let needed = decisions::required_scope(request.method(), request.uri().path());
            if !decisions::scope_satisfies(&scopes, needed) {
                return Err(ApiError::Forbidden(format!(
                    "this request needs the {needed} scope"
                )));
            }
            request.extensions_mut().insert(Caller { app_id, scopes });
            Ok(next.run(request).await)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_expire_and_resist_tampering() {
        let key = [7u8; 32];
        let token = mint(&key, 3, "api:read", 1_000);
        assert!(token.len() * 6 / 8 >= NONCE_LEN + 16 + MAC_LEN);
        match check(&key, &token, 999) {
            TokenCheck::Valid { app_id, scopes } => {
                assert_eq!(app_id, 3);
                assert_eq!(scopes, vec!["api:read".to_owned()]);
            }
            _ => panic!("a fresh token must verify"),
        }
        assert!(matches!(check(&key, &token, 1_000), TokenCheck::Expired));
        assert!(matches!(check(&[8u8; 32], &token, 0), TokenCheck::Invalid));
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[NONCE_LEN + 8] ^= 1; // push the expiry out
        assert!(matches!(
            check(&key, &URL_SAFE_NO_PAD.encode(bytes), 0),
            TokenCheck::Invalid
        ));
        assert_ne!(
            mint(&key, 3, "api:read", 1_000),
            token,
            "each token carries fresh random bits"
        );
    }
}
