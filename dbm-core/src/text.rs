//! Small text helpers the drivers share when they read URLs and connection strings.

/// `%XX` decoding that refuses a malformed escape and what is not UTF-8.
///
/// ```
/// assert_eq!(dbm_core::percent_decode("p%40ss%3Bw").as_deref(), Some("p@ss;w"));
/// assert_eq!(dbm_core::percent_decode("100%"), None);
/// assert_eq!(dbm_core::percent_decode("%ff"), None);
/// ```
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A setting's name as an error may quote it: in backticks when it plainly is a name
/// (letters, digits, `_ - . [ ]` and spaces, at most 40), otherwise not at all, since text
/// that only looks like a name may be a fragment of a password.
///
/// ```
/// assert_eq!(dbm_core::shown_name("Integrated Security"), "`Integrated Security`");
/// assert_eq!(dbm_core::shown_name("pw;x"), "(a name that cannot be shown)");
/// ```
pub fn shown_name(name: &str) -> String {
    let plain = !name.trim().is_empty()
        && name.len() <= 40
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '[' | ']' | ' '));
    if plain {
        format!("`{name}`")
    } else {
        "(a name that cannot be shown)".to_owned()
    }
}
