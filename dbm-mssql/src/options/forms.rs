//! Reading the three forms: `mssql://` and `sqlserver://` URLs, ADO.NET connection strings
//! and JDBC URLs, into [`MssqlOptions`]. Errors name keys and parts, never values.

use std::str::FromStr;

use dbm_core::{Error, Result, percent_decode, redact_url, shown_name as shown};

use super::{Form, MssqlOptions};

/// An ADO `Server` value: `tcp:host,port`, `host,port`, `host`, `(local)`, `.`.
pub(super) fn ado_server(value: &str) -> Result<(String, Option<u16>)> {
    let v = value.trim();
    let v = match v.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("tcp:") => &v[4..],
        _ => v,
    };
    if v.contains('\\') {
        return Err(instance_error());
    }
    if v.len() > 3 && (v[..3].eq_ignore_ascii_case("np:") || v[..4].eq_ignore_ascii_case("lpc:")) {
        return Err(Error::config(
            "named pipes and shared memory are not supported: dbm connects over TCP",
        )
        .with_hint("Server=tcp:host,1433"));
    }
    let (host, port) = match v.split_once(',') {
        Some((h, p)) => (
            h.trim(),
            Some(p.trim().parse::<u16>().map_err(|_| {
                Error::config("the port after the `,` in Server is not a port number")
            })?),
        ),
        None => (v, None),
    };
    let host = match host {
        "." | "(local)" | "(localdb)" => "localhost",
        h => h,
    };
    if host.is_empty() || host.contains(' ') {
        return Err(Error::config("Server is not a host name").with_hint("Server=tcp:host,1433"));
    }
    Ok((host.to_owned(), port))
}

fn instance_error() -> Error {
    Error::config(
        "named instances (`host\\instance`) are not supported: finding their port needs the SQL Browser service, which dbm does not query",
    )
    .with_hint("give the instance's TCP port instead (Server=tcp:host,port or mssql://host:port)")
}

/// Splits `Key=Value;...` on `;` outside quoted values; a value starting with `'`, `"` or
/// `{` (when `quotes` allows it) extends to its closing mark, `''`/`""` standing for one.
fn pairs(text: &str, ado_quotes: bool) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.trim().is_empty() {
        let (key, after) = rest
            .split_once('=')
            .ok_or_else(|| Error::config("a connection string setting has no `=`"))?;
        let key = key.trim().trim_start_matches(';').trim().to_owned();
        let after = after.trim_start();
        let open = after.chars().next();
        let (value, next) = match open {
            Some(q @ ('\'' | '"')) if ado_quotes => {
                let mut value = String::new();
                let mut chars = after[1..].char_indices().peekable();
                let mut end = None;
                while let Some((i, c)) = chars.next() {
                    if c == q {
                        if chars.peek().map(|(_, n)| *n) == Some(q) {
                            value.push(q);
                            chars.next();
                            continue;
                        }
                        end = Some(1 + i + 1);
                        break;
                    }
                    value.push(c);
                }
                let end = end.ok_or_else(|| {
                    Error::config(format!("the value of {} has no closing quote", shown(&key)))
                })?;
                (value, &after[end..])
            }
            Some('{') => {
                let close = after.find('}').ok_or_else(|| {
                    Error::config(format!("the value of {} has no closing `}}`", shown(&key)))
                })?;
                (after[1..close].to_owned(), &after[close + 1..])
            }
            _ => {
                let end = after.find(';').unwrap_or(after.len());
                (after[..end].trim_end().to_owned(), &after[end..])
            }
        };
        let next = next.trim_start();
        if !next.is_empty() && !next.starts_with(';') {
            return Err(Error::config(format!(
                "text follows the quoted value of {} before the next `;`",
                shown(&key)
            )));
        }
        out.push((key, value));
        rest = next.strip_prefix(';').unwrap_or(next);
    }
    Ok(out)
}

impl MssqlOptions {
    fn from_url(url: &str, scheme_len: usize) -> Result<Self> {
        let hint = "mssql://user:password@host:1433/database?encrypt=true; percent-encode @ : / ? # % and spaces in the user name and password (p%40ss)";
        let unreadable = |why: &str| {
            Error::config(format!(
                "the SQL Server URL {} cannot be read: {why}",
                redact_url(url)
            ))
            .with_hint(hint)
        };
        let rest = &url[scheme_len..];
        let first_separator = rest.find(['/', '?', '#']);
        let last_at = rest.rfind('@');
        if let (Some(sep), Some(at)) = (first_separator, last_at)
            && at > sep
        {
            return Err(unreadable(
                "it has an `@` after a `/`, `?` or `#`, so where the password ends is unclear",
            ));
        }
        let authority = &rest[..first_separator.unwrap_or(rest.len())];
        let (userinfo, host_port) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        if host_port.contains('\\') || host_port.contains("%5C") || host_port.contains("%5c") {
            return Err(instance_error());
        }
        let (host, port) = match host_port.strip_prefix('[') {
            Some(v6) => {
                let (h, p) = v6
                    .split_once(']')
                    .ok_or_else(|| unreadable("the IPv6 host has no closing `]`"))?;
                (h, p)
            }
            None => match host_port.find(':') {
                Some(p) => (&host_port[..p], &host_port[p..]),
                None => (host_port, ""),
            },
        };
        let port = match p_digits(port) {
            Some(p) => p,
            None => {
                return Err(unreadable(
                    "the part after the user info is not host[:port]",
                ));
            }
        };
        if host.is_empty() || host.contains(' ') {
            return Err(unreadable("it names no host"));
        }
        let mut o = MssqlOptions::new(host.to_owned(), port.unwrap_or(1433));
        if let Some(info) = userinfo {
            let (user, password) = match info.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (info, None),
            };
            o.user = percent_decode(user)
                .ok_or_else(|| unreadable("the user name has a `%` that is not followed by two hex digits, or is not UTF-8"))?;
            if let Some(p) = password {
                o.password = Some(percent_decode(p).ok_or_else(|| {
                    unreadable("the password has a `%` that is not followed by two hex digits, or is not UTF-8")
                        .with_hint("write `%25` for a literal `%`, and percent-encode @ : / ? # in the password")
                })?);
            }
        }
        let after = &rest[first_separator.unwrap_or(rest.len())..];
        let (path, query) = match after.split_once('?') {
            Some((p, q)) => (p, q),
            None => (after, ""),
        };
        let path = path.split('#').next().unwrap_or("");
        if let Some(db) = path.strip_prefix('/').filter(|d| !d.is_empty()) {
            o.database =
                Some(percent_decode(db).ok_or_else(|| {
                    unreadable("the database name is not valid percent-encoding")
                })?);
        }
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value).ok_or_else(|| {
                unreadable("a parameter value has a `%` that is not followed by two hex digits")
            })?;
            o.set(key, &value, Form::Url)?;
        }
        Ok(o)
    }

    fn from_ado(text: &str) -> Result<Self> {
        let mut o = MssqlOptions::new(String::new(), 1433);
        for (key, value) in pairs(text, true)? {
            o.set(&key, &value, Form::Ado)?;
        }
        if o.host.is_empty() {
            return Err(Error::config("the connection string has no Server")
                .with_hint("Server=tcp:host,1433"));
        }
        Ok(o)
    }

    fn from_jdbc(text: &str) -> Result<Self> {
        let rest = &text["jdbc:sqlserver://".len()..];
        let (server, props) = match rest.find(';') {
            Some(p) => (&rest[..p], &rest[p + 1..]),
            None => (rest, ""),
        };
        if server.contains('\\') {
            return Err(instance_error());
        }
        let (host, port) =
            match server.rsplit_once(':') {
                Some((h, p)) => (
                    h,
                    Some(p.parse::<u16>().map_err(|_| {
                        Error::config("the port of the JDBC URL is not a port number")
                    })?),
                ),
                None => (server, None),
            };
        let mut o = MssqlOptions::new(host.to_owned(), port.unwrap_or(1433));
        for (key, value) in pairs(props, false)? {
            o.set(&key, &value, Form::Jdbc)?;
        }
        if o.host.is_empty() {
            return Err(Error::config("the JDBC URL names no server")
                .with_hint("jdbc:sqlserver://host:1433;databaseName=..."));
        }
        Ok(o)
    }
}

/// `""` → no port, `:digits` → the port; anything else is malformed.
fn p_digits(p: &str) -> Option<Option<u16>> {
    if p.is_empty() {
        return Some(None);
    }
    let d = p.strip_prefix(':')?;
    if d.is_empty() || !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    d.parse().ok().map(Some)
}

fn starts_with(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.is_char_boundary(prefix.len())
        && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

impl FromStr for MssqlOptions {
    type Err = Error;

    /// Reads any of the three forms. A user name is required (SQL Server authentication);
    /// the password may come later (`password_env`).
    fn from_str(text: &str) -> Result<Self> {
        let t = text.trim();
        let o = if starts_with(t, "mssql://") {
            Self::from_url(t, "mssql://".len())?
        } else if starts_with(t, "sqlserver://") {
            Self::from_url(t, "sqlserver://".len())?
        } else if starts_with(t, "jdbc:sqlserver://") {
            Self::from_jdbc(t)?
        } else if t.contains('=') && !t.contains("://") {
            Self::from_ado(t)?
        } else {
            return Err(Error::config(
                "a SQL Server URL is mssql://..., sqlserver://..., an ADO.NET connection string (Server=...;...) or jdbc:sqlserver://...",
            ));
        };
        if o.user.is_empty() {
            return Err(Error::config(format!(
                "the SQL Server connection to {}:{} names no user",
                o.host, o.port
            ))
            .with_hint("SQL Server authentication needs a login: mssql://user:password@host/db, or User Id=... in a connection string"));
        }
        Ok(o)
    }
}
