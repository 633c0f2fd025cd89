//! "Did you mean": the known word closest to a mistyped one.

/// The candidate closest to `word`, if it is close enough to be what was meant: the same
/// but for `_`, `-` and case (`poolsize`, `Pool-Size` → `pool_size`), the same with a
/// suffix left out or added (`cache` → `cache_ms`), or within an edit distance of a third
/// of the word (at least 1, at most 3).
///
/// ```text
/// assert_eq!(closest("poolsize", ["pool_size", "timeout"]), Some("pool_size"));
/// assert_eq!(closest("timout", ["pool_size", "timeout"]), Some("timeout"));
/// assert_eq!(closest("colour", ["pool_size", "timeout"]), None);
/// ```
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let squash = |s: &str| -> String {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let w = squash(word);
    let limit = (word.chars().count() / 3).clamp(1, 3);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == word {
            continue;
        }
        let sc = squash(c);
        let d = if sc == w {
            0
        } else if w.chars().count() >= 4 && (sc.starts_with(&w) || w.starts_with(&sc)) {
            // A unit or suffix left out or added: `cache` for `cache_ms`.
            1
        } else {
            distance(word, c)
        };
        if d <= limit && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Levenshtein distance, two rows of memory.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut row = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            row[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(row[j] + 1);
        }
        std::mem::swap(&mut prev, &mut row);
    }
    prev[b.len()]
}

/// ` (did you mean `x`?)` or nothing.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    closest(word, candidates)
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: [&str; 5] = [
        "pool_size",
        "max_overflow",
        "timeout",
        "pre_ping",
        "recycle",
    ];

    #[test]
    fn close_words_are_suggested_and_far_ones_are_not() {
        assert_eq!(closest("poolsize", KEYS), Some("pool_size"));
        assert_eq!(closest("POOL-SIZE", KEYS), Some("pool_size"));
        assert_eq!(closest("timout", KEYS), Some("timeout"));
        assert_eq!(closest("max_overflw", KEYS), Some("max_overflow"));
        assert_eq!(closest("prepping", KEYS), Some("pre_ping"));
        assert_eq!(closest("colour", KEYS), None);
        assert_eq!(closest("cache", ["cache_ms", "slow_ms"]), Some("cache_ms"));
        assert_eq!(closest("slow", ["cache_ms", "slow_ms"]), Some("slow_ms"));
        assert_eq!(
            closest("slo", ["cache_ms", "slow_ms"]),
            None,
            "too short for a prefix"
        );
        assert_eq!(closest("x", KEYS), None);
        assert_eq!(
            closest("pool_size", KEYS),
            None,
            "an exact word is not a typo"
        );
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(did_you_mean("timout", KEYS), "; did you mean `timeout`?");
        assert_eq!(did_you_mean("zzz", KEYS), "");
    }
}
