//! Masking secrets in anything a user may put where a database URL goes: well-formed URLs,
//! URLs with unencoded passwords, connection strings, and text that is none of these.

/// Returns `url` with every secret replaced by `***`, safe to print or log.
///
/// - `scheme://user:password@host/...`: everything between the scheme and the **last** `@`
///   is user info; the user name is kept when it plainly is one, the rest is masked, so an
///   unencoded password holding `@`, `:`, `/`, `?` or `#` is masked whole.
/// - `scheme://` text with no `@` whose host part does not read as `host[:port]` (a
///   `user:password` with the `@` forgotten, say) is masked after the scheme.
/// - `password=`, `pwd=`, `...secret...`, `...token...` parameters are masked in query
///   strings and in `Key=Value;` connection strings (quoted and `{braced}` values whole).
/// - `sqlite:` URLs are shown as they are (a path holds no credentials).
/// - Anything else cannot be parsed and is masked entirely.
///
/// ```
/// use dbm_core::redact_url;
/// assert_eq!(redact_url("postgres://bob:s3cr%40t@db:5432/x"), "postgres://bob:***@db:5432/x");
/// assert_eq!(redact_url("postgres://bob:p@ss/w?rd@db/x"), "postgres://bob:***@db/x");
/// assert_eq!(redact_url("Server=h;User Id=sa;Password={a;b};"), "Server=h;User Id=sa;Password=***;");
/// assert_eq!(redact_url("sqlite://target/app.db"), "sqlite://target/app.db");
/// assert_eq!(redact_url("bob:hunter2"), "***");
/// ```
pub fn redact_url(url: &str) -> String {
    let text = url.trim();
    if text.is_empty() {
        return String::new();
    }
    if starts_with_ignore_case(text, "sqlite:") {
        return text.to_owned();
    }
    if let Some((scheme, rest)) = text.split_once("://")
        && is_scheme(scheme)
    {
        return format!("{scheme}://{}", redact_after_scheme(rest));
    }
    if looks_like_connection_string(text) {
        return redact_params(text);
    }
    "***".to_owned()
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.is_char_boundary(prefix.len())
        && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// `postgres`, `mssql`, `jdbc:sqlserver`: letters first, then letters, digits, `+-.:`.
fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.' | ':'))
}

/// `Key=Value;...` with a first key made of letters and spaces (`Server`, `Data Source`).
fn looks_like_connection_string(text: &str) -> bool {
    text.split_once('=').is_some_and(|(key, _)| {
        !key.trim().is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '_')
    })
}

fn redact_after_scheme(rest: &str) -> String {
    match rest.rfind('@') {
        Some(at) => {
            let (userinfo, host) = (&rest[..at], &rest[at + 1..]);
            let user = userinfo.split(':').next().unwrap_or("");
            let plain_user = !user.is_empty()
                && user
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '%' | '+'));
            let masked = match (plain_user, userinfo.contains(':')) {
                (true, true) => format!("{user}:***"),
                (true, false) => user.to_owned(),
                (false, _) => "***".to_owned(),
            };
            format!("{masked}@{}", redact_params(host))
        }
        None if readable_authority(rest) => redact_params(rest),
        None => "***".to_owned(),
    }
}

/// Whether the text before the first `/`, `?`, `#` or `;` reads as `host[:port]` (or
/// `[ipv6][:port]`, or SQL Server's `host,port` and `host\instance`).
fn readable_authority(rest: &str) -> bool {
    let end = rest.find(['/', '?', '#', ';']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host_end = match authority.strip_prefix('[') {
        Some(v6) => match v6.find(']') {
            Some(p) => p + 2,
            None => return false,
        },
        None => authority.find(':').unwrap_or(authority.len()),
    };
    let port = &authority[host_end..];
    port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether a parameter name names a secret.
fn is_secret_key(key: &str) -> bool {
    let k = key.trim().to_ascii_lowercase();
    matches!(k.as_str(), "pwd" | "pass")
        || ["password", "secret", "token"]
            .iter()
            .any(|s| k.contains(s))
}

/// Masks the values of secret parameters in `;`, `&` or `?` separated text. A value that
/// starts with `{`, `"` or `'` extends to its closing brace or quote, separators included.
pub(crate) fn redact_params(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let (part, tail) = next_param(rest);
        match part.split_once('=') {
            Some((k, _)) if is_secret_key(k) => {
                out.push_str(k);
                out.push_str("=***");
            }
            // Not `key=value`: a value whose key was forgotten may be a password.
            None if !part.trim().is_empty() && out.contains(['=', '/']) => out.push_str("***"),
            _ => out.push_str(part),
        }
        out.push_str(&tail[..tail.len().min(1)]);
        rest = tail.get(1..).unwrap_or("");
    }
    out
}

/// The next `key=value` part and what follows it (starting with its separator).
fn next_param(text: &str) -> (&str, &str) {
    let value_start = text.find('=').map(|p| p + 1);
    let separator_from = match value_start.and_then(|v| text[v..].chars().next().map(|c| (v, c))) {
        Some((v, '{')) => text[v + 1..]
            .find('}')
            .map_or(text.len(), |p| v + 1 + p + 1),
        // A quoted value ends at its closing quote; a doubled quote stands for one.
        Some((v, quote @ ('"' | '\''))) => {
            let b = text.as_bytes();
            let q = quote as u8;
            let mut i = v + 1;
            loop {
                match b[i..].iter().position(|&c| c == q) {
                    None => break text.len(),
                    Some(p) if b.get(i + p + 1) == Some(&q) => i += p + 2,
                    Some(p) => break i + p + 1,
                }
            }
        }
        _ => 0,
    };
    match text[separator_from..].find([';', '&', '?']) {
        Some(p) => text.split_at(separator_from + p),
        None => (text, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        for (url, shown) in [
            ("postgres://u@h/db", "postgres://u@h/db"),
            (
                "postgres://u:p@ss@h/db?password=x&sslmode=require",
                "postgres://u:***@h/db?password=***&sslmode=require",
            ),
            ("postgres://u:p%40ss%3Aw%2F@h/db", "postgres://u:***@h/db"),
            (
                "postgres://u:pa/ss?x#y@h:5432/db",
                "postgres://u:***@h:5432/db",
            ),
            ("postgres://u/x:pw@h/db", "postgres://***@h/db"),
            ("postgres://u:pw/h/db", "postgres://***"),
            ("postgres://u:pw", "postgres://***"),
            ("postgres://h:5432/db", "postgres://h:5432/db"),
            ("postgres://[::1]:5432/db", "postgres://[::1]:5432/db"),
            ("postgres://h/db?application_name=a@b", "postgres://***@b"),
            ("mssql://sa:p;w@h:1433/db", "mssql://sa:***@h:1433/db"),
            (
                "jdbc:sqlserver://h:1433;user=sa;password=x",
                "jdbc:sqlserver://h:1433;user=sa;password=***",
            ),
            (
                "jdbc:sqlserver://h;password={a;b};user=sa",
                "jdbc:sqlserver://h;password=***;user=sa",
            ),
            ("sqlite://target/a.db", "sqlite://target/a.db"),
            ("sqlite::memory:", "sqlite::memory:"),
            ("SQLITE:data.db", "SQLITE:data.db"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn connection_strings() {
        for (text, shown) in [
            ("Server=h;PWD=x", "Server=h;PWD=***"),
            (
                "Server=tcp:h,1433;User Id=sa;Password=\"a;b\";Database=d",
                "Server=tcp:h,1433;User Id=sa;Password=***;Database=d",
            ),
            ("Data Source=h;Password='x;y'", "Data Source=h;Password=***"),
            (
                "Server=h;Password=\"a\"\"b;c9X\";Database=d",
                "Server=h;Password=***;Database=d",
            ),
            ("Server=h;Pwd='a'';b9X'", "Server=h;Pwd=***"),
            (
                "Server=h;User Id=sa;b9X;Database=d",
                "Server=h;User Id=sa;***;Database=d",
            ),
            ("Server=h;AccessToken=abc", "Server=h;AccessToken=***"),
            ("Server=h;Client Secret=abc;", "Server=h;Client Secret=***;"),
        ] {
            assert_eq!(redact_url(text), shown, "{text}");
        }
    }

    #[test]
    fn what_cannot_be_parsed_is_masked() {
        for text in [
            "u:pw@h/db",
            "postgres:u:pw@h/db",
            "hunter2",
            "://u:pw@h",
            "1postgres://u:pw@h",
        ] {
            assert_eq!(redact_url(text), "***", "{text}");
        }
    }
}
