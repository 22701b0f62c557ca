//! RFC 3339 timestamps without a calendar library.

/// Writes `ns` (nanoseconds since the Unix epoch) as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub fn rfc3339_utc(ns: u64) -> [u8; 27] {
    let secs = ns / 1_000_000_000;
    let micros = (ns % 1_000_000_000) / 1000;
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let mut out = *b"0000-00-00T00:00:00.000000Z";
    put(&mut out[0..4], y as u64);
    put(&mut out[5..7], m as u64);
    put(&mut out[8..10], d as u64);
    put(&mut out[11..13], sod / 3600);
    put(&mut out[14..16], sod % 3600 / 60);
    put(&mut out[17..19], sod % 60);
    put(&mut out[20..26], micros);
    out
}

fn put(dst: &mut [u8], mut v: u64) {
    for slot in dst.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar):
/// days since 1970-01-01 to (year, month, day). Shared with the report's
/// date handling so the two can never disagree on a date.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(&rfc3339_utc(0), b"1970-01-01T00:00:00.000000Z");
        // 2024-02-29T12:34:56.789012Z, a leap day.
        assert_eq!(
            &rfc3339_utc(1_709_210_096_789_012_345),
            b"2024-02-29T12:34:56.789012Z"
        );
        assert_eq!(
            &rfc3339_utc(1_798_761_599_000_000_000),
            b"2026-12-31T23:59:59.000000Z"
        );
    }
}
