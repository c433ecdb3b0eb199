//! The one error type of the HTTP side and how it becomes a response.
//!
//! Every error answers JSON `{"error": "..."}` (the `Error` schema of the OpenAPI
//! document). A 4xx says what was wrong with the request; a 5xx says only
//! "internal error" and logs the cause, which may name files or SQL the client has no
//! business seeing.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;

/// Errors the API answers with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A parameter is missing, unknown or malformed.
    #[error("{0}")]
    BadRequest(String),
    /// No such contact (or route).
    #[error("{0}")]
    NotFound(String),
    /// Credentials missing or wrong; `challenge` becomes `WWW-Authenticate`.
    #[error("authentication required")]
    Unauthorized { challenge: &'static str },
    /// The server cannot answer this yet (starting) or at all (no store for history).
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// An internal error from any cause (logged when it becomes a response).
    pub fn internal(context: &str, cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(format!("{context}: {cause}"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            ApiError::Internal(cause) => {
                // Counted with every other error status by the router's layer.
                tracing::error!(%cause, "request failed");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        let mut response = (status, Json(serde_json::json!({ "error": message }))).into_response();
        if let ApiError::Unauthorized { challenge } = self {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// `Query<T>` whose rejection is an [`ApiError::BadRequest`] (JSON, like every error).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(t)| ApiQuery(t))
            .map_err(|e: QueryRejection| ApiError::BadRequest(e.body_text()))
    }
}

/// `Path<T>` whose rejection is an [`ApiError::BadRequest`].
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| ApiPath(t))
            .map_err(|e: PathRejection| ApiError::BadRequest(e.body_text()))
    }
}
