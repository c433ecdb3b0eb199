//! What the PostgreSQL sink (`sinks::postgres`) and the PostgreSQL lookup
//! (`lookups::postgres`) share about reaching a server: the `url` / `url_env` pair of their
//! configs (checked, then resolved into a connection config at build time), opening a
//! connection whose driver task logs how it ended, and describing a driver error for a
//! person.
//!
//! A connection URL may hold a password, so no text made here repeats one.
//! Connections are made without TLS, as the PostgreSQL store's are.

use std::str::FromStr;

use tokio_postgres::{Client, NoTls};

use crate::problems::{join, Problems};

/// Reports the problems of a config's `url` and `url_env` under `key`: exactly one of
/// them set, a URL that parses, a variable name that is not blank.
pub(crate) fn check_url(
    url: Option<&str>,
    url_env: Option<&str>,
    key: &str,
    problems: &mut Problems,
) {
    match (url, url_env) {
        (Some(_), Some(_)) => {
            problems.push(join(key, "url"), "set either `url` or `url_env`, not both")
        }
        (None, None) => problems.push(
            join(key, "url"),
            "missing: set `url`, or `url_env` to the environment variable that holds it",
        ),
        (Some(url), None) => {
            if let Err(why) = parse_url(url) {
                problems.push(join(key, "url"), why);
            }
        }
        (None, Some(var)) => {
            if var.trim().is_empty() {
                problems.push(join(key, "url_env"), "is empty");
            }
        }
    }
}

/// The connection config of `url`, or of the URL in the environment variable `url_env`
/// (read now). `Err` says what is wrong, for the component's build error: the variable
/// unset, both or neither set, a URL that does not parse (named as `url` or `$VAR`).
pub(crate) fn resolve_url(
    url: Option<&str>,
    url_env: Option<&str>,
) -> Result<tokio_postgres::Config, String> {
    let text = match (url, url_env) {
        (Some(url), None) => url.to_owned(),
        (None, Some(var)) => match std::env::var(var) {
            Ok(url) if !url.trim().is_empty() => url,
            _ => {
                return Err(format!(
                    "the environment variable {var} (url_env) is not set: set it to the \
                     database's connection URL"
                ))
            }
        },
        _ => return Err("set exactly one of `url` and `url_env`".into()),
    };
    parse_url(&text).map_err(|e| {
        let source = url_env.map_or("url".to_owned(), |v| format!("${v}"));
        format!("{source}: {e}")
    })
}

/// Parses a connection URL; the error never repeats the URL (it may hold a password).
fn parse_url(url: &str) -> Result<tokio_postgres::Config, String> {
    tokio_postgres::Config::from_str(url)
        .map_err(|e| format!("not a PostgreSQL connection URL: {}", describe(&e)))
}

/// Who holds a connection, named in the log line when its driver task ends in an error.
pub(crate) enum Owner {
    /// A sink, by name (logged as `sink`).
    Sink(String),
    /// A lookup, by name (logged as `lookup`).
    Lookup(String),
}

/// Opens a connection with `config` and drives it on a task of its own. The task ends
/// when the client is dropped or the server goes away (the owner then reconnects on its
/// next use), logging the error it ended with, if any.
pub(crate) async fn connect(
    config: &tokio_postgres::Config,
    owner: Owner,
) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            let error = describe(&e);
            match owner {
                Owner::Sink(name) => {
                    tracing::warn!(sink = %name, %error, "postgres connection ended")
                }
                Owner::Lookup(name) => {
                    tracing::warn!(lookup = %name, %error, "postgres connection ended")
                }
            }
        }
    });
    Ok(client)
}

/// An error as a reader wants it: a server error with its SQLSTATE (and the detail and
/// hint the server gave); a client error with its causes (e.g. `Connection refused`).
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{db} (SQLSTATE {})", db.code().code());
    }
    crate::sinks::retry::with_causes(e.to_string(), std::error::Error::source(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_url_source_that_parses_and_never_echoes_the_password() {
        let check = |url: Option<&str>, url_env: Option<&str>| {
            let mut problems = Problems::new("f");
            check_url(url, url_env, "sinks[1]", &mut problems);
            problems.to_string()
        };
        assert_eq!(check(Some("postgres://u@h/db"), None), "");
        assert_eq!(check(None, Some("DB_URL")), "");
        assert!(check(Some("x"), Some("Y")).contains("not both"));
        assert!(check(None, None).contains("sinks[1].url: missing"));
        assert!(check(None, Some(" ")).contains("sinks[1].url_env: is empty"));
        let bad = check(Some("postgres://u:secret@h/db?sslmode=bogus"), None);
        assert!(bad.contains("not a PostgreSQL connection URL"), "{bad}");
        assert!(!bad.contains("secret"), "the password leaked: {bad}");
    }

    #[test]
    fn resolving_names_where_the_url_came_from() {
        assert!(resolve_url(Some("postgres://u@h/db"), None).is_ok());
        let e = resolve_url(Some("postgres://u:secret@h/db?sslmode=bogus"), None).unwrap_err();
        assert!(e.starts_with("url: not a PostgreSQL"), "{e}");
        assert!(!e.contains("secret"), "{e}");
        let e = resolve_url(None, Some("SWITCHBOARD_TEST_PG_SURELY_UNSET")).unwrap_err();
        assert!(
            e.contains("SWITCHBOARD_TEST_PG_SURELY_UNSET (url_env) is not set"),
            "{e}"
        );
        let e = resolve_url(None, None).unwrap_err();
        assert!(e.contains("exactly one"), "{e}");
    }
}
