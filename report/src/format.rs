//! How numbers read: one set of rules for the terminal, the HTML tables and
//! the chart labels.

use crate::model::{Kind, Value};

/// Format a value for people (not for CSV or JSON, which carry raw numbers).
pub fn value(v: &Value, kind: Kind) -> String {
    match v {
        Value::Null => "-".to_string(),
        Value::Text(s) => s.clone(),
        Value::Num(n) => number(*n, kind),
    }
}

/// Format a number by kind: counts with thousands separators (one decimal
/// when a weighted estimate is small and fractional), shares as percentages,
/// other numbers with three significant digits.
pub fn number(n: f64, kind: Kind) -> String {
    if !n.is_finite() {
        return "-".to_string();
    }
    match kind {
        Kind::Share => {
            let p = n * 100.0;
            if p != 0.0 && p.abs() < 0.1 {
                "<0.1%".to_string()
            } else {
                format!("{p:.1}%")
            }
        }
        Kind::Count | Kind::Text => {
            if n.fract().abs() > 1e-9 && n.abs() < 100.0 {
                format!("{n:.1}")
            } else {
                thousands(n.round() as i64)
            }
        }
        Kind::Number => significant(n),
    }
}

/// `1234567` -> `1,234,567`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Three significant digits, no exponent for everyday magnitudes, trailing
/// zeros dropped: `0.734`, `12.5`, `1,234`.
pub fn significant(n: f64) -> String {
    if n == 0.0 {
        return "0".to_string();
    }
    let a = n.abs();
    if a >= 1000.0 {
        return thousands(n.round() as i64);
    }
    let decimals = if a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        // 0.0123 -> 4 decimals
        (2 - a.log10().floor() as i32).clamp(2, 6) as usize
    };
    let s = format!("{n:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Short form for chart axes and bar ends: `950`, `12.3k`, `4.5M`.
pub fn compact(n: f64, kind: Kind) -> String {
    if kind == Kind::Share {
        return number(n, kind);
    }
    let a = n.abs();
    if a >= 1e9 {
        format!("{}G", significant(n / 1e9))
    } else if a >= 1e6 {
        format!("{}M", significant(n / 1e6))
    } else if a >= 1e4 {
        format!("{}k", significant(n / 1e3))
    } else if kind == Kind::Count {
        number(n, kind)
    } else {
        significant(n)
    }
}

/// Shorten `s` to at most `width` characters, marking the cut with `…`.
pub fn clip(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_shares_and_numbers_read_naturally() {
        assert_eq!(number(1234567.0, Kind::Count), "1,234,567");
        assert_eq!(number(-1234.0, Kind::Count), "-1,234");
        assert_eq!(number(12.5, Kind::Count), "12.5");
        assert_eq!(number(1234.4, Kind::Count), "1,234");
        assert_eq!(number(0.625, Kind::Share), "62.5%");
        assert_eq!(number(0.0001, Kind::Share), "<0.1%");
        assert_eq!(number(0.7345, Kind::Number), "0.735");
        assert_eq!(number(-0.5, Kind::Number), "-0.5");
        assert_eq!(number(2.0, Kind::Number), "2");
        assert_eq!(number(0.01234, Kind::Number), "0.0123");
        assert_eq!(number(f64::NAN, Kind::Number), "-");
        assert_eq!(compact(12345.0, Kind::Count), "12.3k");
        assert_eq!(compact(4_500_000.0, Kind::Count), "4.5M");
        assert_eq!(compact(950.0, Kind::Count), "950");
    }

    #[test]
    fn clip_marks_the_cut() {
        assert_eq!(clip("scikit-learn", 20), "scikit-learn");
        assert_eq!(clip("scikit-learn", 6), "sciki…");
        assert_eq!(clip("ab", 0), "");
    }
}
