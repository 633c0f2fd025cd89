//! Tables for people: columns sized to their content, long text cut with an ellipsis,
//! colour only when stdout is a terminal and `NO_COLOR` is unset.

use std::io::IsTerminal;

use comfy_table::{ContentArrangement, Table, presets};

/// A borderless table with these headers.
pub(super) fn table<const N: usize>(headers: [&str; N]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers);
    for c in t.column_iter_mut() {
        c.set_padding((0, 2));
    }
    t
}

/// Whether to colour stdout.
pub(super) fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Colours of states.
#[derive(Debug, Clone, Copy)]
pub(super) enum Tone {
    Good,
    Warn,
    Bad,
}

/// `text` in `tone` when colouring, else as is.
pub(super) fn paint(text: &str, tone: Tone, colour: bool) -> String {
    if !colour {
        return text.to_owned();
    }
    let code = match tone {
        Tone::Good => 32,
        Tone::Warn => 33,
        Tone::Bad => 31,
    };
    format!("\u{1b}[{code}m{text}\u{1b}[0m")
}

/// At most `max` characters, the last one `…` when cut.
pub(super) fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// The table's lines without trailing spaces.
pub(super) fn render(t: &Table) -> String {
    t.lines()
        .map(|l| l.trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_fit_their_longest_cell() {
        let mut t = table(["VERSION", "DESCRIPTION"]);
        t.add_row(["1", "first"]);
        t.add_row(["20261128123456", "timestamped"]);
        assert_eq!(
            render(&t),
            "VERSION         DESCRIPTION\n1               first\n20261128123456  timestamped"
        );
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abcd", 4), "abcd");
        assert_eq!(cut("ééééé", 3), "éé…");
        assert_eq!(paint("x", Tone::Bad, false), "x");
        assert_eq!(paint("x", Tone::Good, true), "\u{1b}[32mx\u{1b}[0m");
    }
}
