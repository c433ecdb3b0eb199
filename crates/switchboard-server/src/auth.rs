//! Optional authentication for the API, the feed, the dashboard and `/metrics`
//! (`/healthz` and `/readyz` stay open for probes).
//!
//! - **Bearer token**: `Authorization: Bearer TOKEN` for programs. A browser cannot add
//!   that header to a page load or an `EventSource`, so opening `/?token=TOKEN` once sets
//!   an HttpOnly, SameSite=Strict cookie holding the token and redirects to `/`; the
//!   cookie then authenticates the dashboard's requests.
//! - **Basic**: `Authorization: Basic ...`, which browsers prompt for and then send on
//!   every request of the origin, feed included.
//!
//! Listening on anything but a loopback address without either is refused
//! ([`check_bind`]): the seat map names agents and the API can show customer numbers.

use std::net::SocketAddr;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use crate::error::ApiError;
use crate::AppState;

/// Name of the cookie that carries the bearer token for browsers.
pub const TOKEN_COOKIE: &str = "switchboard_token";

/// Environment variables the binary reads the secrets from (so they stay out of `ps`).
pub const TOKEN_ENV: &str = "SWITCHBOARD_AUTH_TOKEN";
pub const BASIC_ENV: &str = "SWITCHBOARD_BASIC_AUTH";

/// How clients authenticate.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Auth {
    /// Anyone who can reach the port (loopback only).
    #[default]
    None,
    Bearer {
        token: String,
    },
    Basic {
        user: String,
        password: String,
    },
}

impl std::fmt::Debug for Auth {
    // Never print secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Bearer { .. } => f.write_str("Bearer(***)"),
            Auth::Basic { user, .. } => write!(f, "Basic({user}:***)"),
        }
    }
}

/// Why the server refuses to start.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error(
        "refusing to listen on {addr} without authentication: anyone who can reach it would \
         see the seat map and the API. Set a bearer token (--auth-token or {TOKEN_ENV}) or \
         basic auth (--basic-auth USER:PASSWORD or {BASIC_ENV}), or listen on 127.0.0.1"
    )]
    OpenNonLoopback { addr: SocketAddr },
    #[error("basic auth must be USER:PASSWORD with a non-empty user and password")]
    BadBasic,
    #[error("the auth token must not be empty")]
    EmptyToken,
}

impl Auth {
    /// Auth from the command line's options: at most one of a token and `USER:PASSWORD`.
    pub fn from_options(token: Option<&str>, basic: Option<&str>) -> Result<Self, AuthError> {
        if let Some(basic) = basic {
            let (user, password) = basic.split_once(':').ok_or(AuthError::BadBasic)?;
            if user.is_empty() || password.is_empty() {
                return Err(AuthError::BadBasic);
            }
            return Ok(Auth::Basic {
                user: user.to_owned(),
                password: password.to_owned(),
            });
        }
        match token {
            Some("") => Err(AuthError::EmptyToken),
            Some(t) => Ok(Auth::Bearer {
                token: t.to_owned(),
            }),
            None => Ok(Auth::None),
        }
    }

    pub fn is_none(&self) -> bool {
        *self == Auth::None
    }

    /// Whether `headers` carry valid credentials.
    fn accepts(&self, headers: &HeaderMap) -> bool {
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match self {
            Auth::None => true,
            Auth::Bearer { token } => {
                let from_header = authorization
                    .and_then(|a| a.strip_prefix("Bearer "))
                    .is_some_and(|t| same(t.trim(), token));
                from_header || cookie(headers, TOKEN_COOKIE).is_some_and(|t| same(&t, token))
            }
            Auth::Basic { user, password } => authorization
                .and_then(|a| a.strip_prefix("Basic "))
                .and_then(|b| {
                    base64::engine::general_purpose::STANDARD
                        .decode(b.trim())
                        .ok()
                })
                .and_then(|b| String::from_utf8(b).ok())
                .is_some_and(|pair| same(&pair, &format!("{user}:{password}"))),
        }
    }

    fn challenge(&self) -> &'static str {
        match self {
            Auth::Basic { .. } => "Basic realm=\"switchboard\", charset=\"UTF-8\"",
            _ => "Bearer realm=\"switchboard\"",
        }
    }
}

/// Refuses an open server on a non-loopback address.
pub fn check_bind(addr: SocketAddr, auth: &Auth) -> Result<(), AuthError> {
    if auth.is_none() && !addr.ip().is_loopback() {
        return Err(AuthError::OpenNonLoopback { addr });
    }
    Ok(())
}

/// Compares in time independent of where the strings first differ.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of cookie `name`, if the request has it.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Paths that need no credentials: liveness and readiness probes.
fn is_open(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

/// The middleware: passes authenticated requests on, answers the rest with 401.
pub async fn require(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let auth = &state.options().auth;
    if auth.is_none() || is_open(request.uri().path()) || auth.accepts(request.headers()) {
        return next.run(request).await;
    }
    if let Auth::Bearer { token } = auth {
        if request.uri().path() == "/" {
            if let Some(given) = query_token(request.uri().query()) {
                if same(&given, token) {
                    return set_cookie_and_enter(&given);
                }
            }
            return (
                StatusCode::UNAUTHORIZED,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "This dashboard needs its access token: open /?token=TOKEN once \
                 (the token is the one switchboard was started with).\n",
            )
                .into_response();
        }
    }
    ApiError::Unauthorized {
        challenge: auth.challenge(),
    }
    .into_response()
}

fn query_token(query: Option<&str>) -> Option<String> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "token")
        .map(|(_, v)| v.to_owned())
}

/// Stores the token in a cookie and sends the browser to `/`, so the token leaves the
/// address bar and the history.
fn set_cookie_and_enter(token: &str) -> Response {
    let cookie = format!("{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn non_loopback_needs_auth() {
        let open: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let v6: SocketAddr = "[::1]:8080".parse().unwrap();
        let err = check_bind(open, &Auth::None).unwrap_err();
        assert!(err.to_string().contains("--auth-token"), "{err}");
        assert!(check_bind(local, &Auth::None).is_ok());
        assert!(check_bind(v6, &Auth::None).is_ok());
        let token = Auth::from_options(Some("s3cret"), None).unwrap();
        assert!(check_bind(open, &token).is_ok());
    }

    #[test]
    fn options_are_validated() {
        assert_eq!(Auth::from_options(None, None), Ok(Auth::None));
        assert_eq!(
            Auth::from_options(Some(""), None),
            Err(AuthError::EmptyToken)
        );
        assert_eq!(
            Auth::from_options(None, Some("user")),
            Err(AuthError::BadBasic)
        );
        assert_eq!(
            Auth::from_options(None, Some(":pw")),
            Err(AuthError::BadBasic)
        );
        assert_eq!(
            Auth::from_options(None, Some("ann:pa:ss")),
            Ok(Auth::Basic {
                user: "ann".into(),
                password: "pa:ss".into()
            })
        );
        assert_eq!(
            format!("{:?}", Auth::from_options(Some("s3cret"), None).unwrap()),
            "Bearer(***)"
        );
    }

    #[test]
    fn bearer_from_header_or_cookie() {
        let auth = Auth::from_options(Some("s3cret"), None).unwrap();
        assert!(auth.accepts(&headers(&[(header::AUTHORIZATION, "Bearer s3cret")])));
        assert!(!auth.accepts(&headers(&[(header::AUTHORIZATION, "Bearer s3cre")])));
        assert!(!auth.accepts(&headers(&[])));
        assert!(auth.accepts(&headers(&[(
            header::COOKIE,
            "theme=dark; switchboard_token=s3cret"
        )])));
        assert!(!auth.accepts(&headers(&[(header::COOKIE, "switchboard_token=nope")])));
    }

    #[test]
    fn basic_credentials() {
        let auth = Auth::from_options(None, Some("ann:pw")).unwrap();
        let good = base64::engine::general_purpose::STANDARD.encode("ann:pw");
        let bad = base64::engine::general_purpose::STANDARD.encode("ann:px");
        assert!(auth.accepts(&headers(&[(
            header::AUTHORIZATION,
            &format!("Basic {good}")
        )])));
        assert!(!auth.accepts(&headers(&[(
            header::AUTHORIZATION,
            &format!("Basic {bad}")
        )])));
        assert!(!auth.accepts(&headers(&[(header::AUTHORIZATION, "Bearer ann:pw")])));
    }
}
