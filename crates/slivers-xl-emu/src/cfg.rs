//! The subset of `xl.cfg(5)` the emulator reads: `key = value` lines with
//! integers, quoted strings and `[...]` lists of them; `#` comments.

use std::collections::BTreeMap;

/// A value in an `xl` config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CfgValue {
    /// A decimal integer.
    Int(i64),
    /// A single- or double-quoted string.
    Str(String),
    /// A bracketed list.
    List(Vec<CfgValue>),
}

/// Parses config text into its settings (a later key replaces an earlier
/// one). The error reads like libxlu's: `FILE:LINE: config parsing error
/// near `TOKEN': syntax error`.
pub fn parse(text: &str, file: &str) -> Result<BTreeMap<String, CfgValue>, String> {
    let mut p = Parser {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
        file,
    };
    let mut out = BTreeMap::new();
    loop {
        p.skip_blank(true);
        if p.at_end() {
            return Ok(out);
        }
        let key = p.ident()?;
        p.skip_blank(false);
        p.expect('=')?;
        p.skip_blank(false);
        let value = p.value()?;
        p.skip_blank(false);
        match p.peek() {
            None | Some('\n') | Some(';') => {
                p.bump();
            }
            Some(_) => return Err(p.error()),
        }
        out.insert(key, value);
    }
}

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    file: &'a str,
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    /// Skips spaces, tabs and comments (and newlines and `;` when
    /// `newlines`).
    fn skip_blank(&mut self, newlines: bool) {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' => {
                    self.bump();
                }
                '\n' | ';' if newlines => {
                    self.bump();
                }
                '#' => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                _ => break,
            }
        }
    }

    fn error(&self) -> String {
        let near: String = self.chars[self.pos.min(self.chars.len())..]
            .iter()
            .take_while(|c| !c.is_whitespace())
            .take(20)
            .collect();
        format!(
            "{}:{}: config parsing error near `{}': syntax error",
            self.file, self.line, near
        )
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.bump();
            Ok(())
        } else {
            Err(self.error())
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            self.bump();
        }
        if start == self.pos || self.chars[start].is_ascii_digit() {
            return Err(self.error());
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    fn value(&mut self) -> Result<CfgValue, String> {
        match self.peek() {
            Some(q @ ('"' | '\'')) => {
                self.bump();
                let mut s = String::new();
                loop {
                    match self.bump() {
                        Some(c) if c == q => return Ok(CfgValue::Str(s)),
                        Some('\n') | None => return Err(self.error()),
                        Some(c) => s.push(c),
                    }
                }
            }
            Some('[') => {
                self.bump();
                let mut items = Vec::new();
                loop {
                    self.skip_blank(true);
                    if self.peek() == Some(']') {
                        self.bump();
                        return Ok(CfgValue::List(items));
                    }
                    items.push(self.value()?);
                    self.skip_blank(true);
                    match self.peek() {
                        Some(',') => {
                            self.bump();
                        }
                        Some(']') => {}
                        _ => return Err(self.error()),
                    }
                }
            }
            Some(c) if c.is_ascii_digit() || c == '-' => {
                let start = self.pos;
                self.bump();
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.bump();
                }
                let s: String = self.chars[start..self.pos].iter().collect();
                s.parse().map(CfgValue::Int).map_err(|_| self.error())
            }
            _ => Err(self.error()),
        }
    }
}

/// A vif rate limit: bytes allowed per interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Bytes per interval.
    pub bytes_per_interval: u64,
    /// Interval length in microseconds.
    pub interval_usecs: u64,
}

/// Parses a vif `rate=` value: `N[K|M|G](B|b)/s[@N(s|ms|us)]` (`B` bytes,
/// `b` bits; the interval defaults to 50 ms).
pub fn parse_rate(s: &str) -> Option<Rate> {
    let (rate, interval) = match s.split_once('@') {
        Some((r, i)) => (r, Some(i)),
        None => (s, None),
    };
    let rate = rate.strip_suffix("/s")?;
    let digits = rate.bytes().take_while(u8::is_ascii_digit).count();
    let n: u64 = rate[..digits].parse().ok()?;
    let unit = &rate[digits..];
    let (mult, bits) = match unit {
        "B" => (1u64, false),
        "b" => (1, true),
        "KB" | "kB" => (1_000, false),
        "Kb" | "kb" => (1_000, true),
        "MB" => (1_000_000, false),
        "Mb" => (1_000_000, true),
        "GB" => (1_000_000_000, false),
        "Gb" => (1_000_000_000, true),
        _ => return None,
    };
    let mut bytes_per_sec = n.checked_mul(mult)?;
    if bits {
        bytes_per_sec /= 8;
    }
    let interval_usecs = match interval {
        None => 50_000,
        Some(i) => {
            let digits = i.bytes().take_while(u8::is_ascii_digit).count();
            let n: u64 = i[..digits].parse().ok()?;
            match &i[digits..] {
                "s" => n.checked_mul(1_000_000)?,
                "ms" => n.checked_mul(1_000)?,
                "us" => n,
                _ => return None,
            }
        }
    };
    if interval_usecs == 0 {
        return None;
    }
    let bytes_per_interval =
        u64::try_from(u128::from(bytes_per_sec) * u128::from(interval_usecs) / 1_000_000).ok()?;
    Some(Rate {
        bytes_per_interval,
        interval_usecs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_generated_config() {
        let text = "# generated\nname = \"vm1\"\nmemory = 1024\nmaxmem = 2048\n\
                    vif = [ 'bridge=xenbr0,rate=100Mb/s@50ms' ]\ndisk = [ ]\ncap = 0; vcpus=1\n";
        let m = parse(text, "x.cfg").unwrap();
        assert_eq!(m["name"], CfgValue::Str("vm1".into()));
        assert_eq!(m["memory"], CfgValue::Int(1024));
        assert_eq!(m["vcpus"], CfgValue::Int(1));
        assert_eq!(
            m["vif"],
            CfgValue::List(vec![CfgValue::Str("bridge=xenbr0,rate=100Mb/s@50ms".into())])
        );
        assert_eq!(m["disk"], CfgValue::List(vec![]));
    }

    #[test]
    fn reports_syntax_errors_with_line() {
        let err = parse("name = \"a\"\nmemory = = 3\n", "/x/a.cfg").unwrap_err();
        assert!(
            err.starts_with("/x/a.cfg:2: config parsing error near `="),
            "{err}"
        );
        assert!(parse("name = \"unterminated\n", "f").is_err());
        assert!(parse("9x = 1\n", "f").is_err());
    }

    #[test]
    fn rates() {
        assert_eq!(
            parse_rate("100Mb/s@50ms"),
            Some(Rate {
                bytes_per_interval: 625_000,
                interval_usecs: 50_000
            })
        );
        assert_eq!(parse_rate("10MB/s").unwrap().bytes_per_interval, 500_000);
        assert_eq!(parse_rate("1Gb/s@1s").unwrap().bytes_per_interval, 125_000_000);
        assert!(parse_rate("10Mb").is_none());
        assert!(parse_rate("10Xb/s").is_none());
        assert!(parse_rate("10Mb/s@0ms").is_none());
    }
}
