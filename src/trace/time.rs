//! Civil (proleptic Gregorian, UTC) date-times to and from unix seconds.
//!
//! No time zones and no leap seconds: every day has 86,400 seconds, as in
//! unix time. The day arithmetic is Howard Hinnant's `days_from_civil` /
//! `civil_from_days` (<https://howardhinnant.github.io/date_algorithms.html>).

/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// Days since 1970-01-01 of the civil date `y-m-d` (`m` in 1..=12, `d` in
/// 1..=31; not validated here).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let m = m as i64;
    let mp = if m > 2 { m - 3 } else { m + 9 }; // March = 0
    let doy = (153 * mp + 2) / 5 + d as i64 - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of `days` since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

/// Whether `y` is a Gregorian leap year.
pub fn is_leap_year(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// Number of days in month `m` (1..=12) of year `y`.
pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap_year(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Day of the week of unix time `unix`: 0 = Monday .. 6 = Sunday (UTC).
pub fn weekday(unix: i64) -> u32 {
    // 1970-01-01 was a Thursday (3).
    (unix.div_euclid(DAY) + 3).rem_euclid(7) as u32
}

/// Seconds since the most recent UTC midnight, in `0..86400`.
pub fn second_of_day(unix: i64) -> i64 {
    unix.rem_euclid(DAY)
}

const EXPECTED: &str = "expected a UTC date \"YYYY-MM-DD\" or date-time \"YYYY-MM-DD HH:MM:SS\" (or with 'T' between, optional trailing 'Z')";

/// Parses a UTC date or date-time into unix seconds.
///
/// Accepted forms: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS`,
/// `YYYY-MM-DDTHH:MM:SS`, each optionally followed by `Z`. Fields must have
/// exactly the digits shown; the date must exist (e.g. no February 30) and
/// the time must be within 00:00:00..=23:59:59. The error string says what
/// was expected and what was found.
///
/// ```
/// use slivers::trace::time::parse_datetime;
/// assert_eq!(parse_datetime("1998-05-01 00:00:00"), Ok(893_980_800));
/// assert_eq!(parse_datetime("1970-01-01"), Ok(0));
/// ```
pub fn parse_datetime(s: &str) -> Result<i64, String> {
    let bad = || format!("{EXPECTED}, found \"{s}\"");
    let body = s.strip_suffix('Z').unwrap_or(s);
    let b = body.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let t = b.get(range)?;
        if t.iter().all(u8::is_ascii_digit) {
            Some(t.iter().fold(0i64, |a, &c| a * 10 + (c - b'0') as i64))
        } else {
            None
        }
    };
    if !(b.len() == 10 || b.len() == 19) || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let (y, mo, d) = match (num(0..4), num(5..7), num(8..10)) {
        (Some(y), Some(m), Some(d)) => (y, m, d),
        _ => return Err(bad()),
    };
    let (h, mi, sec) = if b.len() == 19 {
        if !(b[10] == b' ' || b[10] == b'T') || b[13] != b':' || b[16] != b':' {
            return Err(bad());
        }
        match (num(11..13), num(14..16), num(17..19)) {
            (Some(h), Some(mi), Some(sec)) => (h, mi, sec),
            _ => return Err(bad()),
        }
    } else {
        (0, 0, 0)
    };
    if !(1..=12).contains(&mo) {
        return Err(format!("expected a month in 01..=12, found {mo:02} in \"{s}\""));
    }
    let dim = days_in_month(y, mo as u32) as i64;
    if !(1..=dim).contains(&d) {
        return Err(format!(
            "expected a day in 01..={dim} for {y:04}-{mo:02}, found {d:02} in \"{s}\""
        ));
    }
    if h > 23 || mi > 59 || sec > 59 {
        return Err(format!(
            "expected a time of day in 00:00:00..=23:59:59, found {h:02}:{mi:02}:{sec:02} in \"{s}\""
        ));
    }
    Ok(days_from_civil(y, mo as u32, d as u32) * DAY + h * 3600 + mi * 60 + sec)
}

/// Formats unix seconds as `YYYY-MM-DD HH:MM:SS` (UTC).
///
/// ```
/// use slivers::trace::time::format_datetime;
/// assert_eq!(format_datetime(893_980_800), "1998-05-01 00:00:00");
/// ```
pub fn format_datetime(unix: i64) -> String {
    let (y, m, d) = civil_from_days(unix.div_euclid(DAY));
    let s = unix.rem_euclid(DAY);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Formats unix seconds as the shortest form [`parse_datetime`] reads back
/// and a shell accepts unquoted: `YYYY-MM-DD` at midnight, otherwise
/// `YYYY-MM-DDTHH:MM:SS`.
pub fn format_datetime_arg(unix: i64) -> String {
    let full = format_datetime(unix);
    if unix.rem_euclid(DAY) == 0 {
        full[..full.len() - 9].to_string()
    } else {
        full.replacen(' ', "T", 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(parse_datetime("1970-01-01"), Ok(0));
        assert_eq!(parse_datetime("1970-01-01 00:00:00"), Ok(0));
        assert_eq!(parse_datetime("1998-05-01 00:00:00"), Ok(893_980_800));
        assert_eq!(parse_datetime("1998-05-01T00:00:00Z"), Ok(893_980_800));
        assert_eq!(parse_datetime("1998-05-01Z"), Ok(893_980_800));
        // KTH's UnixStartTime 843480031 is Mon Sep 23 14:00:31 CEST 1996 = 12:00:31 UTC.
        assert_eq!(parse_datetime("1996-09-23 12:00:31"), Ok(843_480_031));
        // 2026-01-05: 56 years incl. 14 leap days -> 20454 days, +4.
        assert_eq!(parse_datetime("2026-01-05"), Ok(20_458 * DAY));
        assert_eq!(parse_datetime("1969-12-31 23:59:59"), Ok(-1));
        assert_eq!(parse_datetime("2000-03-01"), Ok(951_868_800));
    }

    #[test]
    fn leap_days() {
        let feb29 = parse_datetime("2000-02-29 12:00:00").unwrap();
        assert_eq!(feb29, 951_825_600);
        assert_eq!(format_datetime(feb29), "2000-02-29 12:00:00");
        assert_eq!(
            parse_datetime("2024-03-01").unwrap() - parse_datetime("2024-02-28").unwrap(),
            2 * DAY
        );
        assert!(parse_datetime("1900-02-29").is_err()); // century, not leap
        assert!(parse_datetime("2023-02-29").is_err());
        assert!(parse_datetime("2024-02-29").is_ok());
    }

    #[test]
    fn round_trips() {
        let mut t = -5 * 365 * DAY;
        while t < 80 * 365 * DAY {
            let s = format_datetime(t);
            assert_eq!(parse_datetime(&s), Ok(t), "{s}");
            t += 7_919 * 61; // odd step: hits all times of day
        }
        for d in -1_000_000..1_000_000i64 {
            if d % 997 == 0 {
                let (y, m, dd) = civil_from_days(d);
                assert_eq!(days_from_civil(y, m, dd), d);
            }
        }
    }

    #[test]
    fn weekdays_and_args() {
        assert_eq!(weekday(0), 3); // Thursday
        assert_eq!(weekday(parse_datetime("2026-01-05").unwrap()), 0); // Monday
        assert_eq!(weekday(parse_datetime("2026-01-11 23:59:59").unwrap()), 6); // Sunday
        assert_eq!(format_datetime_arg(20_458 * DAY), "2026-01-05");
        assert_eq!(format_datetime_arg(20_458 * DAY + 3661), "2026-01-05T01:01:01");
    }

    #[test]
    fn errors_say_expected_and_found() {
        let e = parse_datetime("1998/05/01").unwrap_err();
        assert!(e.starts_with("expected a UTC date"), "{e}");
        assert!(e.ends_with("found \"1998/05/01\""), "{e}");
        for bad in [
            "",
            "1998-5-1",
            "1998-05-01 0:00:00",
            "1998-05-01X00:00:00",
            "abcd-ef-gh",
        ] {
            assert!(parse_datetime(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_datetime("1998-13-01").unwrap_err(),
            "expected a month in 01..=12, found 13 in \"1998-13-01\""
        );
        assert_eq!(
            parse_datetime("1999-02-29").unwrap_err(),
            "expected a day in 01..=28 for 1999-02, found 29 in \"1999-02-29\""
        );
        assert_eq!(
            parse_datetime("1998-05-01 24:00:00").unwrap_err(),
            "expected a time of day in 00:00:00..=23:59:59, found 24:00:00 in \"1998-05-01 24:00:00\""
        );
    }
}
