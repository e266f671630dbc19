//! Text shown to people: long values shortened, so that a message stays a
//! sentence (a 300-digit number or a pasted trace line is cut, not echoed
//! back whole).

use std::borrow::Cow;

/// The most characters of one line a message shows.
pub const MAX_LINE: usize = 120;

/// `text` with every line longer than `max` characters cut to its first
/// `max` characters, then `…` and how many characters the line had.
/// Shorter lines, and text without long lines, are returned as they are.
pub fn elide_long_lines(text: &str, max: usize) -> Cow<'_, str> {
    if text.lines().all(|l| l.chars().count() <= max) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len().min(max * 8));
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let n = line.chars().count();
        if n <= max {
            out.push_str(line);
        } else {
            out.extend(line.chars().take(max));
            out.push_str(&format!("… ({n} characters)"));
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_and_counted_short_ones_kept() {
        assert!(matches!(elide_long_lines("short\nlines", 10), Cow::Borrowed(_)));
        let long = format!("count = {}\nnext", "9".repeat(300));
        let cut = elide_long_lines(&long, 12);
        assert_eq!(cut, "count = 9999… (308 characters)\nnext");
        // Characters, not bytes: a multi-byte character is never split.
        assert_eq!(elide_long_lines("ééééé", 3), "ééé… (5 characters)");
    }
}
