//! The Spark Connect connection string, `sc://HOST[:PORT][/;name=value;...]`, parsed here rather than by the
//! client so that no value can leak: a Databricks string carries a personal access token (`token`) and
//! workspace details (`x-databricks-cluster-id`, `user_id`), and the client's own parser echoes the string
//! and its parameters in its errors and `Debug`. [`SparkRemote`] prints its host, port and parameter names,
//! never a parameter's value; its errors name the part that is wrong, never the text around it.
//!
//! Parameters follow the Spark Connect client specification (PySpark's `ChannelBuilder`): `use_ssl`,
//! `token`, `user_id`, `user_agent`, `session_id` and the gRPC keep-alive settings configure the channel;
//! every other parameter (`x-databricks-cluster-id`, ...) travels as gRPC metadata on every request.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use spark_connect_core::channel::{ChannelBuilder, DEFAULT_PORT};
use trdm_client::REDACTED;

/// A parsed `sc://` connection string. `Display` and `Debug` show `sc://HOST:PORT/;name=<redacted>;...`.
#[derive(Clone, PartialEq, Eq)]
pub struct SparkRemote {
    host: String,
    port: u16,
    params: BTreeMap<String, String>,
}

/// Why a connection string was refused. The message names the part that is wrong and never contains a
/// parameter's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteError(String);

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RemoteError {}

fn invalid(what: impl Into<String>) -> RemoteError {
    RemoteError(format!(
        "invalid Spark Connect string ({}): expected sc://HOST[:PORT][/;name=value;...]",
        what.into()
    ))
}

impl SparkRemote {
    /// Parses `sc://HOST[:PORT][/;name=value;...]` (port 15002 when none is given; values may be
    /// percent-encoded, and may contain `=`).
    pub fn parse(text: &str) -> Result<Self, RemoteError> {
        let rest = text
            .strip_prefix("sc://")
            .ok_or_else(|| invalid("it does not start with sc://"))?;
        let (authority, tail) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => match rest.find(';') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, ""),
            },
        };
        let (host, port) = parse_authority(authority)?;
        let mut params = BTreeMap::new();
        let path_error =
            || invalid("a path, query or fragment where only ;name=value parameters may follow");
        let tail = match tail.strip_prefix(';') {
            Some(params) => params,
            None if tail.is_empty() => "",
            None => return Err(path_error()),
        };
        if !tail.is_empty() {
            if tail.contains('/') || tail.contains('?') || tail.contains('#') {
                return Err(path_error());
            }
            for (n, param) in tail.split(';').enumerate() {
                if param.is_empty() {
                    continue;
                }
                let Some((name, value)) = param.split_once('=') else {
                    return Err(invalid(format!(
                        "parameter {} has no `=`; parameters are name=value",
                        n + 1
                    )));
                };
                let name = percent_decode(name)
                    .ok_or_else(|| invalid(format!("parameter {} has a bad %-escape", n + 1)))?;
                if name.is_empty() {
                    return Err(invalid(format!("parameter {} has no name", n + 1)));
                }
                let value = percent_decode(value).ok_or_else(|| {
                    invalid(format!(
                        "the value of parameter `{name}` has a bad %-escape"
                    ))
                })?;
                params.insert(name, value);
            }
        }
        Ok(SparkRemote { host, port, params })
    }

    /// The host (IPv6 addresses in brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The names of the parameters given, sorted.
    pub fn parameter_names(&self) -> impl Iterator<Item = &str> {
        self.params.keys().map(String::as_str)
    }

    /// Whether the channel uses TLS (`use_ssl=true`).
    pub fn use_ssl(&self) -> bool {
        self.params
            .get("use_ssl")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// The client's channel configuration, every parameter passed through unchanged.
    pub(crate) fn channel_builder(&self) -> Result<ChannelBuilder, RemoteError> {
        let mut builder = ChannelBuilder::parse(&format!("sc://{}:{}", self.host, self.port))
            .map_err(|_| invalid("the client refused the host or port"))?;
        for (name, value) in &self.params {
            builder.set(name, value);
        }
        Ok(builder)
    }
}

impl FromStr for SparkRemote {
    type Err = RemoteError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SparkRemote::parse(s)
    }
}

impl fmt::Display for SparkRemote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sc://{}:{}", self.host, self.port)?;
        if !self.params.is_empty() {
            f.write_str("/")?;
            for name in self.params.keys() {
                write!(f, ";{name}={REDACTED}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for SparkRemote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SparkRemote({self})")
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn parse_authority(authority: &str) -> Result<(String, u16), RemoteError> {
    if authority.contains('@') {
        return Err(invalid(
            "user information before the host; give credentials as ;token=...",
        ));
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or_else(|| invalid("an IPv6 host without its closing `]`"))?;
        let host = &rest[..end];
        let after = &rest[end + 1..];
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| invalid("text after the IPv6 host"))?,
            ),
        };
        (format!("[{}]", host.to_ascii_lowercase()), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_ascii_lowercase(), Some(p)),
            None => (authority.to_ascii_lowercase(), None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err(invalid("no host"));
    }
    if host.contains(|c: char| c.is_whitespace() || c == ';' || c == '?' || c == '#') {
        return Err(invalid("a host with characters a host name cannot have"));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| invalid("the port is not a number from 1 to 65535"))?,
    };
    Ok((host, port))
}

/// `%XX` escapes decoded (as UTF-8); `None` for a broken escape or bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATABRICKS: &str = "sc://adb-1234567890123456.7.azuredatabricks.net:443/;token=dapiSECRET0123456789==;x-databricks-cluster-id=0123-456789-abcdefgh;use_ssl=true;user_id=someone%40example.com";

    #[test]
    fn a_databricks_string_passes_every_parameter_through_and_prints_none_of_their_values() {
        let remote = SparkRemote::parse(DATABRICKS).unwrap();
        assert_eq!(remote.host(), "adb-1234567890123456.7.azuredatabricks.net");
        assert_eq!(remote.port(), 443);
        assert!(remote.use_ssl());
        let builder = remote.channel_builder().unwrap();
        assert_eq!(builder.token().as_deref(), Some("dapiSECRET0123456789=="));
        assert_eq!(builder.user_id(), Some("someone@example.com"));
        assert!(builder.use_ssl());
        assert_eq!(
            builder.metadata(),
            vec![(
                "x-databricks-cluster-id".to_owned(),
                "0123-456789-abcdefgh".to_owned()
            )]
        );
        let shown = format!("{remote} {remote:?}");
        for secret in [
            "dapiSECRET",
            "0123-456789-abcdefgh",
            "someone",
            "true",
            "example.com",
        ] {
            assert!(!shown.contains(secret), "{secret} shown in {shown}");
        }
        assert_eq!(
            remote.to_string(),
            "sc://adb-1234567890123456.7.azuredatabricks.net:443/;token=<redacted>;use_ssl=<redacted>;\
             user_id=<redacted>;x-databricks-cluster-id=<redacted>"
        );
    }

    #[test]
    fn a_plain_local_string_takes_the_default_port() {
        let remote: SparkRemote = "sc://localhost".parse().unwrap();
        assert_eq!((remote.host(), remote.port()), ("localhost", 15002));
        assert_eq!(remote.to_string(), "sc://localhost:15002");
        let remote = SparkRemote::parse("sc://127.0.0.1:40123/").unwrap();
        assert_eq!(remote.to_string(), "sc://127.0.0.1:40123");
        let remote = SparkRemote::parse("sc://[::1]:15003;user_id=me").unwrap();
        assert_eq!(remote.to_string(), "sc://[::1]:15003/;user_id=<redacted>");
    }

    #[test]
    fn a_bad_string_is_refused_without_echoing_any_value() {
        for (text, why) in [
            (
                "http://host:443/;token=SECRETVALUE",
                "does not start with sc://",
            ),
            ("sc://:443/;token=SECRETVALUE", "no host"),
            (
                "sc://host:4x3/;token=SECRETVALUE",
                "the port is not a number",
            ),
            ("sc://host:0", "the port is not a number"),
            (
                "sc://host/;token=SECRETVALUE;oops",
                "parameter 2 has no `=`",
            ),
            ("sc://host/;=SECRETVALUE", "parameter 1 has no name"),
            (
                "sc://host/;token=SECRETVALUE%zz",
                "the value of parameter `token`",
            ),
            (
                "sc://host/path;token=SECRETVALUE",
                "a path, query or fragment",
            ),
            ("sc://user:SECRETVALUE@host", "user information"),
        ] {
            let err = SparkRemote::parse(text).unwrap_err().to_string();
            assert!(err.contains(why), "{text}: {err}");
            assert!(!err.contains("SECRETVALUE"), "{text}: {err}");
        }
    }
}
