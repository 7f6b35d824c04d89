//! Errors: the crate's [`Error`] for starting the emulator, and [`ApiError`], the one shape every HTTP error
//! takes on the wire (part A §11), so a malformed body, a missing token and a failed lookup all look alike.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why the emulator could not start or load its fixture.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The fixture file is unreadable or inconsistent.
    #[error("fixture {path}: {message}")]
    Fixture {
        /// The fixture file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// A database operation failed.
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
    /// A file or socket operation failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Neither a fixture nor an initialised database was given.
    #[error("the database {0} is empty and no --fixture was given to initialise it")]
    NotInitialised(String),
}

/// An HTTP error answer. Client-caused variants carry the sentence the client sees; `Internal` is logged and
/// answered with a generic sentence.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// RFC 6749 §5.2 error of the token endpoint.
    #[error("{error}: {description}")]
    OAuth {
        status: StatusCode,
        error: &'static str,
        description: String,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub(crate) fn not_found(what: &str, id: impl std::fmt::Display) -> Self {
        ApiError::NotFound(format!("{what} {id} not found"))
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::OAuth { status, .. } => *status,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn summary(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "Bad Request",
            ApiError::Unauthorized(_) => "Unauthorized",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::NotFound(_) => "Not Found",
            ApiError::Conflict(_) => "Conflict",
            ApiError::OAuth { .. } => "OAuth Error",
            ApiError::Internal(_) => "Internal Server Error",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            ApiError::OAuth {
                error, description, ..
            } => {
                json!({ "error": error, "error_description": description })
            }
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                let message = "the emulator hit an internal error; see its log";
                json!({ "error": self.summary(), "errors": [message], "message": message })
            }
            other => {
                let message = other.to_string();
                json!({ "error": other.summary(), "errors": [message], "message": message })
            }
        };
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        ApiError::Internal(format!("database: {e}"))
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        ApiError::Internal(format!("io: {e}"))
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::BadRequest(format!("the query string is malformed: {}", e.body_text()))
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(e: axum::extract::rejection::PathRejection) -> Self {
        ApiError::BadRequest(format!("the request path is malformed: {}", e.body_text()))
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::Internal(format!("task: {e}"))
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;
