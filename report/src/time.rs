//! Dates on the command line and in the report: `YYYY-MM-DD` or RFC 3339,
//! always UTC, as microseconds since the epoch (the store's unit).

use anyhow::{bail, Result};

/// Microseconds per day.
pub const DAY_US: i64 = 86_400_000_000;

/// Microseconds per week.
pub const WEEK_US: i64 = 7 * DAY_US;

/// Offset that makes `(t - MONDAY_US) / WEEK_US` count weeks starting on
/// Mondays (1970-01-05 was the first Monday after the epoch).
pub const MONDAY_US: i64 = 4 * DAY_US;

/// A bound given on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instant {
    /// Microseconds since the epoch.
    pub us: i64,
    /// Whether it was a bare date (a whole day) rather than a timestamp.
    pub date_only: bool,
}

/// Parse `2026-11-01` or `2026-11-01T06:00:00Z` (also with fractional
/// seconds or a `+HH:MM` offset).
pub fn parse(s: &str) -> Result<Instant> {
    let bad = || anyhow::anyhow!("{s}: not a date (use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)");
    let num = |a: usize, b: usize| -> Result<i64> {
        s.get(a..b)
            .filter(|t| t.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|t| t.parse().ok())
            .ok_or_else(bad)
    };
    if s.len() < 10 || &s[4..5] != "-" || &s[7..8] != "-" {
        return Err(bad());
    }
    let (y, m, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let day = days_from_civil(y, m as u32, d as u32) * DAY_US;
    if s.len() == 10 {
        return Ok(Instant {
            us: day,
            date_only: true,
        });
    }
    let rest = &s[10..];
    if !(rest.starts_with('T') || rest.starts_with(' ')) || s.len() < 19 {
        return Err(bad());
    }
    let (hh, mm, ss) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if hh > 23 || mm > 59 || ss > 60 {
        return Err(bad());
    }
    let mut us = day + (hh * 3600 + mm * 60 + ss) * 1_000_000;
    let mut tail = &s[19..];
    if let Some(frac) = tail.strip_prefix('.') {
        let digits: String = frac.chars().take_while(|c| c.is_ascii_digit()).collect();
        if digits.is_empty() {
            return Err(bad());
        }
        let micros: String = digits.chars().chain("000000".chars()).take(6).collect();
        us += micros.parse::<i64>().map_err(|_| bad())?;
        tail = &frac[digits.len()..];
    }
    match tail {
        "Z" | "z" | "" => {}
        off if off.len() == 6 && (off.starts_with('+') || off.starts_with('-')) => {
            let base = s.len() - 6;
            let (oh, om) = (num(base + 1, base + 3)?, num(base + 4, base + 6)?);
            let sign = if off.starts_with('+') { 1 } else { -1 };
            us -= sign * (oh * 3600 + om * 60) * 1_000_000;
        }
        _ => return Err(bad()),
    }
    Ok(Instant {
        us,
        date_only: false,
    })
}

/// `YYYY-MM-DD` of an instant.
pub fn date(us: i64) -> String {
    let (y, m, d) = pyusage_record::time::civil_from_days(us.div_euclid(DAY_US));
    format!("{y:04}-{m:02}-{d:02}")
}

/// RFC 3339 of an instant, to the second.
pub fn timestamp(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let sod = secs.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date(us),
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// The Monday that starts week number `week` (as counted in the store
/// queries: `(start_us - MONDAY_US) / WEEK_US`).
pub fn week_start(week: i64) -> String {
    date(MONDAY_US + week * WEEK_US)
}

/// Now, in microseconds since the epoch.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Check that an `until` is not before a `since`.
pub fn check_order(since: Option<i64>, until: Option<i64>) -> Result<()> {
    if let (Some(a), Some(b)) = (since, until) {
        if b <= a {
            bail!(
                "--until ({}) is not after --since ({})",
                timestamp(b),
                timestamp(a)
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_timestamps_round_trip() {
        let d = parse("2026-11-26").unwrap();
        assert!(d.date_only);
        assert_eq!(date(d.us), "2026-11-26");
        let t = parse("2026-11-26T06:28:01.5Z").unwrap();
        assert_eq!(t.us - d.us, (6 * 3600 + 28 * 60 + 1) * 1_000_000 + 500_000);
        assert_eq!(timestamp(t.us), "2026-11-26T06:28:01Z");
        let o = parse("2026-11-26T08:28:01+02:00").unwrap();
        assert_eq!(timestamp(o.us), "2026-11-26T06:28:01Z");
        assert_eq!(date(parse("2024-02-29").unwrap().us), "2024-02-29");
        assert_eq!(parse("1970-01-01").unwrap().us, 0);
    }

    #[test]
    fn bad_dates_are_refused_with_the_input_named() {
        for s in [
            "2026-13-01",
            "26-11-01",
            "2026-11-01T25:00:00Z",
            "yesterday",
            "2026-11-01X",
        ] {
            let e = parse(s).unwrap_err().to_string();
            assert!(e.contains(s), "{e}");
        }
    }

    #[test]
    fn weeks_start_on_monday() {
        // 2026-11-23 is a Monday.
        let t = parse("2026-11-26T12:00:00Z").unwrap().us;
        let w = (t - MONDAY_US).div_euclid(WEEK_US);
        assert_eq!(week_start(w), "2026-11-23");
    }
}
