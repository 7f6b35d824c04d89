//! The request helper. Every request the crate sends — API calls, the token call, presigned transfers — goes
//! through `Client::execute`, which adds the bearer token, applies the retry policy of
//! [`RetryConfig`](crate::RetryConfig), re-authenticates once on a 401, runs the recovery lookup of creates,
//! records one `tracing` span per attempt and turns a failure status into an [`Error`] through
//! [`error::from_status`](crate::error::from_status), the only place that mapping happens.

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use reqwest::{Method, Url, header};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;
use tracing::{Instrument, field};

use crate::Result;
use crate::auth::{Token, TokenResponse};
use crate::client::Client;
use crate::error::{self, Error};
use crate::redact::{SafeUrl, Secret};
use crate::retry::{Budget, parse_retry_after, retryable_status};
use crate::transfer::UploadBody;

/// Most bytes of an error body read for its message.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Where a request goes.
pub(crate) enum Target<'a> {
    /// A path under the base URL, with query parameters.
    Api {
        path: &'a str,
        query: &'a [(&'a str, String)],
    },
    /// A presigned object-storage URL (no bearer token).
    Presigned(&'a SafeUrl),
}

/// What a request carries.
pub(crate) enum Payload<'a> {
    None,
    Json(&'a Value),
    /// `Content-Type: application/json` and no body, as the incumbent SDK posts to `complete`.
    EmptyJson,
    Form(&'a [(&'a str, &'a str)]),
    Upload(&'a UploadBody),
}

/// How a request may be repeated (see [`RetryConfig`](crate::RetryConfig)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Safe to repeat.
    Idempotent,
    /// Creates a resource: repeated without a lookup only when it provably did nothing.
    Create,
    /// Moves a resource to another state: repeated; a 409 after a lost answer runs the lookup.
    Transition,
}

pub(crate) struct Call<'a> {
    pub(crate) method: Method,
    pub(crate) target: Target<'a>,
    pub(crate) payload: Payload<'a>,
    pub(crate) kind: Kind,
    /// Send the bearer token (and re-authenticate once on 401).
    pub(crate) auth: bool,
    /// Hand the response over unread (downloads) instead of reading the body.
    pub(crate) stream: bool,
}

impl Call<'_> {
    /// An authenticated, idempotent JSON request to the API.
    pub(crate) fn api<'a>(
        method: Method,
        path: &'a str,
        query: &'a [(&'a str, String)],
    ) -> Call<'a> {
        Call {
            method,
            target: Target::Api { path, query },
            payload: Payload::None,
            kind: Kind::Idempotent,
            auth: true,
            stream: false,
        }
    }

    fn repeatable(&self) -> bool {
        !matches!(self.payload, Payload::Upload(body) if !body.is_repeatable())
    }
}

/// Finds the resource a create or a state change may have produced when its answer was lost.
pub(crate) type Lookup<'a> = dyn Fn() -> BoxFuture<'a, Result<Option<Value>>> + Send + Sync + 'a;

/// How to settle a lost answer.
pub(crate) struct Recovery<'a> {
    pub(crate) what: String,
    pub(crate) correlation_code: String,
    pub(crate) lookup: &'a Lookup<'a>,
}

/// A successful answer.
pub(crate) enum Reply {
    Body(Bytes),
    Stream(reqwest::Response),
    /// Found by a recovery lookup instead of answered.
    Recovered(Value),
}

enum Outcome {
    Success(Reply),
    Status {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    Failed {
        error: Error,
        connect: bool,
    },
}

impl Client {
    /// A valid access token (cached, refreshed as the crate docs describe). Useful to hand the session to
    /// another tool; it prints as `<redacted>`.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn access_token(&self) -> Result<Secret> {
        self.token().await
    }

    /// Boxed, because fetching a token goes through `execute`, which asks for a token.
    fn token(&self) -> BoxFuture<'_, Result<Secret>> {
        Box::pin(self.inner.tokens.get(|| self.fetch_token()))
    }

    async fn fetch_token(&self) -> Result<Token> {
        let credentials = &self.inner.credentials;
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", credentials.client_id.as_str()),
            ("client_secret", credentials.client_secret.expose()),
        ];
        if let Some(scope) = &credentials.scope {
            form.push(("scope", scope.as_str()));
        }
        let call = Call {
            method: Method::POST,
            target: Target::Api {
                path: "/oauth/token",
                query: &[],
            },
            payload: Payload::Form(&form),
            kind: Kind::Idempotent,
            auth: false,
            stream: false,
        };
        let reply = self.execute(&call, None).await.map_err(|e| match e {
            Error::Validation { message }
            | Error::Unauthenticated { message }
            | Error::PermissionDenied { message } => Error::Unauthenticated {
                message: format!("the token request was refused: {message}"),
            },
            other => other,
        })?;
        let token: TokenResponse = decode("the token response", reply)?;
        tracing::debug!("access token acquired");
        Ok(token.into_token(Instant::now()))
    }

    /// GET a JSON resource.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T> {
        let reply = self
            .execute(&Call::api(Method::GET, path, query), None)
            .await?;
        decode(path, reply)
    }

    /// POST JSON (or nothing) and read a JSON answer.
    pub(crate) async fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Option<&Value>,
        kind: Kind,
        recovery: Option<&Recovery<'_>>,
    ) -> Result<T> {
        let payload = match body {
            Some(body) => Payload::Json(body),
            None => Payload::EmptyJson,
        };
        let call = Call {
            payload,
            kind,
            ..Call::api(Method::POST, path, &[])
        };
        let reply = self.execute(&call, recovery).await?;
        decode(path, reply)
    }

    fn url_of(&self, target: &Target<'_>) -> Result<Url> {
        match target {
            Target::Presigned(url) => Ok(url.expose().clone()),
            Target::Api { path, query } => {
                let mut url = Url::parse(&format!("{}{path}", self.inner.base)).map_err(|e| {
                    Error::Config {
                        message: format!("cannot build the URL of {path}: {e}"),
                    }
                })?;
                if !query.is_empty() {
                    url.query_pairs_mut()
                        .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
                }
                Ok(url)
            }
        }
    }

    /// Sends `call` under the retry policy; see the module docs.
    pub(crate) async fn execute(
        &self,
        call: &Call<'_>,
        recovery: Option<&Recovery<'_>>,
    ) -> Result<Reply> {
        let url = self.url_of(&call.target)?;
        let config = &self.inner.retry;
        let mut budget = Budget::start();
        let mut attempt = 0;
        let mut reauthenticated = false;
        // Whether an earlier attempt may have been performed although its answer was lost.
        let mut ambiguous = false;
        // A create that fails after a lost answer may still have happened: say so, with the correlation code.
        let settle = |error: Error, ambiguous: bool| match recovery {
            Some(r) if call.kind == Kind::Create && ambiguous => Error::Unconfirmed {
                what: r.what.clone(),
                correlation_code: r.correlation_code.clone(),
                source: Box::new(error),
            },
            _ => error,
        };
        let give_up = |error: Error, budget: &Budget, ambiguous: bool| {
            settle(error.with_retries(budget.retries()), ambiguous)
        };
        loop {
            attempt += 1;
            let token = match call.auth {
                true => Some(self.token().await.map_err(|e| settle(e, ambiguous))?),
                false => None,
            };
            let (error, retry_after, maybe_performed) = match self
                .attempt(call, &url, token.as_ref(), attempt)
                .await?
            {
                Outcome::Success(reply) => return Ok(reply),
                Outcome::Status {
                    status: 401,
                    message,
                    ..
                } if call.auth && !reauthenticated => {
                    tracing::debug!(%message, "401 for a token believed valid; re-authenticating once");
                    if let Some(token) = &token {
                        self.inner.tokens.invalidate(token);
                    }
                    reauthenticated = true;
                    continue;
                }
                Outcome::Status {
                    status: 409,
                    message,
                    ..
                } if call.kind == Kind::Transition && ambiguous => {
                    if let Some(found) = match recovery {
                        Some(r) => (r.lookup)().await?,
                        None => None,
                    } {
                        tracing::info!(
                            "a lost answer had been performed; using the resource as it is now"
                        );
                        return Ok(Reply::Recovered(found));
                    }
                    return Err(give_up(Error::Conflict { message }, &budget, ambiguous));
                }
                Outcome::Status {
                    status,
                    message,
                    retry_after,
                } => {
                    let error = error::from_status(status, message, retry_after);
                    if !retryable_status(status) {
                        return Err(give_up(error, &budget, false));
                    }
                    (error, retry_after, status != 429)
                }
                Outcome::Failed { error, connect } => (error, None, !connect),
            };
            if !call.repeatable() {
                return Err(give_up(error, &budget, false));
            }
            if maybe_performed {
                ambiguous = true;
                if call.kind == Kind::Create {
                    let Some(r) = recovery else {
                        return Err(give_up(error, &budget, false));
                    };
                    match (r.lookup)().await {
                        Ok(Some(found)) => {
                            let code = &r.correlation_code;
                            tracing::info!(correlation_code = %code, "a lost create had been performed; found it by its code");
                            return Ok(Reply::Recovered(found));
                        }
                        Ok(None) => {
                            tracing::debug!(correlation_code = %r.correlation_code, "the lost create was not performed")
                        }
                        Err(lookup) => {
                            tracing::warn!(error = %lookup, "the recovery lookup failed");
                            return Err(give_up(error, &budget, true));
                        }
                    }
                }
            }
            match budget.next(config, retry_after) {
                Some(delay) => {
                    tracing::debug!(attempt, delay_ms = delay.as_millis() as u64, error = %error, "retrying");
                    tokio::time::sleep(delay).await;
                    budget.spent += 1;
                }
                None => return Err(give_up(error, &budget, ambiguous)),
            }
        }
    }

    /// One attempt, inside its own span.
    async fn attempt(
        &self,
        call: &Call<'_>,
        url: &Url,
        token: Option<&Secret>,
        attempt: u32,
    ) -> Result<Outcome> {
        let (shown, timeout) = match &call.target {
            Target::Api { path, .. } => ((*path).to_owned(), self.inner.request_timeout),
            Target::Presigned(safe) => (safe.to_string(), self.inner.transfer_timeout),
        };
        let span = tracing::debug_span!(
            "trdm_client.http",
            method = %call.method,
            path = %url.path(),
            attempt,
            status = field::Empty,
            duration_ms = field::Empty,
        );
        async {
            let started = Instant::now();
            let mut request = self
                .inner
                .http
                .request(call.method.clone(), url.clone())
                .timeout(timeout);
            if matches!(call.target, Target::Api { .. }) {
                request = request.header(header::ACCEPT, "application/json");
            }
            if let Some(token) = token {
                request = request.bearer_auth(token.expose());
            }
            request = match &call.payload {
                Payload::None => request,
                Payload::Json(body) => request.json(body),
                Payload::EmptyJson => request.header(header::CONTENT_TYPE, "application/json"),
                Payload::Form(form) => request.form(form),
                Payload::Upload(body) => {
                    let (body, length) = body.open().await?;
                    let request = request.header(header::CONTENT_TYPE, "text/csv").body(body);
                    match length {
                        Some(length) => request.header(header::CONTENT_LENGTH, length),
                        None => request,
                    }
                }
            };
            let method = call.method.as_str();
            let outcome = match request.send().await {
                Err(e) => Outcome::Failed {
                    connect: e.is_connect(),
                    error: Error::transport(method, &shown, e),
                },
                Ok(response) if response.status().is_success() => {
                    tracing::Span::current().record("status", response.status().as_u16());
                    if call.stream {
                        Outcome::Success(Reply::Stream(response))
                    } else {
                        match response.bytes().await {
                            Ok(body) => Outcome::Success(Reply::Body(body)),
                            Err(e) => Outcome::Failed {
                                connect: false,
                                error: Error::transport(method, &shown, e),
                            },
                        }
                    }
                }
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    tracing::Span::current().record("status", status);
                    let retry_after = parse_retry_after(response.headers());
                    let mut body = Vec::new();
                    while let Ok(Some(chunk)) = response.chunk().await {
                        body.extend_from_slice(
                            &chunk[..chunk.len().min(ERROR_BODY_LIMIT - body.len())],
                        );
                        if body.len() >= ERROR_BODY_LIMIT {
                            break;
                        }
                    }
                    Outcome::Status {
                        status,
                        message: error::server_message(status, &body),
                        retry_after,
                    }
                }
            };
            let duration_ms = started.elapsed().as_millis() as u64;
            tracing::Span::current().record("duration_ms", duration_ms);
            match &outcome {
                Outcome::Failed { error, .. } => tracing::debug!(duration_ms, %error, "no answer"),
                Outcome::Status {
                    status, message, ..
                } => tracing::debug!(duration_ms, status, %message, "failed"),
                Outcome::Success(_) => tracing::debug!(duration_ms, "ok"),
            }
            Ok(outcome)
        }
        .instrument(span)
        .await
    }
}

/// Reads a JSON answer (or a recovered resource) as `T`.
pub(crate) fn decode<T: DeserializeOwned>(what: &str, reply: Reply) -> Result<T> {
    match reply {
        Reply::Body(body) => serde_json::from_slice(&body).map_err(|e| Error::decode(what, e)),
        Reply::Recovered(value) => {
            serde_json::from_value(value).map_err(|e| Error::decode(what, e))
        }
        Reply::Stream(_) => Err(Error::decode(what, "expected a JSON body")),
    }
}
