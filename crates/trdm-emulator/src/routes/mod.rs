//! The HTTP surface: router assembly and the small helpers every handler shares (body fields that may arrive
//! as numbers or strings, path ids, the origin presigned URLs point at).

mod blobs;
mod exports;
mod imports;
mod metadata;
mod table_data;

#[cfg(feature = "fuzzing")]
pub(crate) use table_data::grid_query;

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Router, middleware};
use serde_json::{Map, Value as Json, json};

use crate::error::{ApiError, ApiResult};
use crate::faults::FaultKind;
use crate::state::AppState;

/// Builds the router. Both path families of part A §1 are served from one origin.
pub(crate) fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/v1/branches", get(metadata::list_branches))
        .route("/api/v1/branches/{id}", get(metadata::get_branch))
        .route("/api/v1/domains", get(metadata::list_domains))
        .route("/api/v1/domains/{id}", get(metadata::get_domain))
        .route(
            "/api/v1/table_definitions",
            get(metadata::list_table_definitions),
        )
        .route(
            "/api/v1/table_definitions/{id}",
            get(metadata::get_table_definition),
        )
        .route(
            "/api/v1/table_definitions/{id}/import_mappings",
            get(metadata::list_import_mappings),
        )
        .route(
            "/api/v1/table_definitions/{id}/import_mappings/{mapping_id}",
            get(metadata::get_import_mapping),
        )
        .route(
            "/api/v1/deployed_table_definitions",
            get(metadata::list_deployed),
        )
        .route(
            "/api/v1/deployed_table_definitions/lookup",
            get(metadata::lookup_deployed),
        )
        .route(
            "/api/v1/deployed_table_definitions/{id}",
            get(metadata::get_deployed),
        )
        .route("/api/v1/table_data/grid", post(table_data::grid))
        .route("/api/v1/table_data/{id}", get(table_data::get))
        .route("/api/exports/new", post(exports::create))
        .route("/api/v1/exports", post(exports::create).get(exports::list))
        .route("/api/exports", get(exports::list))
        .route("/api/exports/{id}", get(exports::get))
        .route("/api/v1/exports/{id}", get(exports::get))
        .route("/api/imports/new", post(imports::create))
        .route("/api/v1/imports", post(imports::create).get(imports::list))
        .route("/api/imports", get(imports::list))
        .route("/api/imports/{id}", get(imports::get))
        .route("/api/v1/imports/{id}", get(imports::get))
        .route("/api/imports/{id}/complete", post(imports::complete))
        .route("/api/v1/imports/{id}/complete", post(imports::complete))
        .route("/api/import_tables/new", post(imports::create_table))
        .route("/api/v1/import_tables", post(imports::create_table))
        .route("/api/import_tables/{id}", get(imports::get_table))
        .route("/api/v1/import_tables/{id}", get(imports::get_table))
        .route(
            "/api/import_tables/{id}/upload_complete",
            post(imports::upload_complete),
        )
        .route(
            "/api/v1/import_tables/{id}/upload_complete",
            post(imports::upload_complete),
        )
        .route(
            "/api/import_tables/{id}/upload_failed",
            post(imports::upload_failed),
        )
        .route(
            "/api/v1/import_tables/{id}/upload_failed",
            post(imports::upload_failed),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::authorize,
        ));
    Router::new()
        .route("/oauth/token", post(crate::auth::token))
        .route("/_s3/uploads/{id}", put(blobs::put_upload))
        .route("/_s3/exports/{id}", get(blobs::get_export))
        .route("/healthz", get(|| async { "ok" }))
        .merge(api)
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .with_state(state)
}

/// The answer to an injected fault: `Err` closes the connection without a response.
pub(crate) fn fault_response(
    kind: FaultKind,
    retry_after: Duration,
) -> Result<Response, std::io::Error> {
    let (status, summary) = match kind {
        FaultKind::Drop => return Err(std::io::Error::other("injected fault: connection dropped")),
        FaultKind::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests"),
        FaultKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
    };
    let message = format!("injected fault: {summary}");
    let mut response = (
        status,
        axum::Json(json!({ "error": summary, "errors": [message], "message": message })),
    )
        .into_response();
    if kind == FaultKind::TooManyRequests {
        let secs = retry_after.as_secs_f64().ceil().max(0.0) as u64;
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    Ok(response)
}

/// A JSON object body. An empty body is an empty object (the official SDK posts no body to `complete` and
/// `upload_complete`); anything else that is not a JSON object is a 400 in the usual error shape.
pub(crate) struct Body(pub(crate) Map<String, Json>);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::BadRequest(format!("cannot read the request body: {e}")))?;
        Body::from_bytes(&bytes)
    }
}

impl Body {
    /// The body of a request, as [`FromRequest`] reads it.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body(Map::new()));
        }
        match serde_json::from_slice::<Json>(bytes) {
            Ok(Json::Object(map)) => Ok(Body(map)),
            Ok(_) => Err(ApiError::BadRequest(
                "the request body must be a JSON object".into(),
            )),
            Err(e) => Err(ApiError::BadRequest(format!(
                "the request body is not valid JSON: {e}"
            ))),
        }
    }
}

impl Body {
    fn present(&self, name: &str) -> Option<&Json> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    /// An id that may arrive as a JSON number or a numeric string.
    pub(crate) fn id(&self, name: &str) -> ApiResult<Option<i64>> {
        match self.present(name) {
            None => Ok(None),
            Some(Json::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.bad(name, "an integer id")),
            Some(Json::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| self.bad(name, "an integer id")),
            Some(_) => Err(self.bad(name, "an integer id")),
        }
    }

    pub(crate) fn required_id(&self, name: &str) -> ApiResult<i64> {
        self.id(name)?
            .ok_or_else(|| ApiError::BadRequest(format!("{name} is required")))
    }

    /// A key: opaque text, compared as a string even when sent as a number (part A §3).
    pub(crate) fn key(&self, name: &str) -> ApiResult<Option<String>> {
        match self.present(name) {
            None => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(Json::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(self.bad(name, "a string key")),
        }
    }

    pub(crate) fn required_key(&self, name: &str) -> ApiResult<String> {
        self.key(name)?
            .ok_or_else(|| ApiError::BadRequest(format!("{name} is required")))
    }

    pub(crate) fn text(&self, name: &str) -> ApiResult<Option<String>> {
        match self.present(name) {
            None => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.bad(name, "a string")),
        }
    }

    pub(crate) fn flag(&self, name: &str) -> ApiResult<Option<bool>> {
        match self.present(name) {
            None => Ok(None),
            Some(Json::Bool(b)) => Ok(Some(*b)),
            Some(Json::String(s)) if s == "true" || s == "false" => Ok(Some(s == "true")),
            Some(_) => Err(self.bad(name, "true or false")),
        }
    }
}

impl Body {
    fn bad(&self, name: &str, expected: &str) -> ApiError {
        let got = self.0.get(name).map(shown).unwrap_or_default();
        ApiError::BadRequest(format!("{name} must be {expected}, got {got}"))
    }
}

/// A JSON value as an error message shows it: compact, and cut (on a character boundary) after 100 characters.
pub(crate) fn shown(value: &Json) -> String {
    const MAX: usize = 100;
    let text = value.to_string();
    if text.chars().count() <= MAX {
        return text;
    }
    let cut: String = text.chars().take(MAX).collect();
    format!("{cut}…")
}

/// `axum::extract::Query` whose rejection (a repeated or mistyped parameter) is a 400 in the usual error shape.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(crate) struct Query<T>(pub(crate) T);

/// `axum::extract::Path` whose rejection (a segment that is not UTF-8 once decoded) is a 400 in the usual shape.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub(crate) struct Path<T>(pub(crate) T);

/// A numeric path id; anything else names no resource.
pub(crate) fn path_id(what: &str, raw: &str) -> ApiResult<i64> {
    raw.parse().map_err(|_| ApiError::not_found(what, raw))
}

/// The origin presigned URLs point at: the one the client used to reach us.
pub(crate) fn origin(state: &AppState, headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .map(|h| format!("http://{h}"))
        .unwrap_or_else(|| state.origin.to_string())
}

/// Seconds since the epoch, for presigned expiries.
pub(crate) fn now_secs() -> i64 {
    crate::time::now() / 1_000_000
}

/// A 201 with a JSON body.
pub(crate) fn created(body: Json) -> Response {
    (StatusCode::CREATED, axum::Json(body)).into_response()
}
