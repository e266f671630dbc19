//! Words for a POSIX shell: the Slurm batch scripts and the commands run
//! over ssh quote every argument with [`quote`].

/// Quotes `s` as one word for a POSIX shell: unchanged when it is made of
/// plainly safe characters only (ASCII letters and digits, `/._-+=:,@%`),
/// else in single quotes (a quote inside as `'\''`).
pub fn quote(s: &str) -> String {
    let safe = |b: u8| b.is_ascii_alphanumeric() || b"/._-+=:,@%".contains(&b);
    if !s.is_empty() && s.bytes().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quoting() {
        assert_eq!(quote("xl"), "xl");
        assert_eq!(quote("/a/b-c_d.toml"), "/a/b-c_d.toml");
        assert_eq!(quote("/etc/xen/a.cfg"), "/etc/xen/a.cfg");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$HOME"), "'$HOME'");
        assert_eq!(quote("$(rm)"), "'$(rm)'");
        assert_eq!(quote("é"), "'é'");
        assert_eq!(quote(""), "''");
    }
}
