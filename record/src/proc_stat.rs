//! `/proc/PID/stat`, read for one field: the process's start time.
//!
//! A pid alone does not identify a process (pids are reused); the pid and
//! the start time in clock ticks since boot (field 22) do. The tracer writes
//! its own start time into the raw record, and `pyusage sweep` compares it
//! with the live process of that pid to decide whether the record's owner is
//! still running. Both sides must parse the file identically, so this is the
//! one parser.

/// The start time (field 22) of a `/proc/PID/stat` line, or `None` if the
/// text is not such a line.
///
/// The command name (field 2) is in parentheses and may itself contain
/// spaces and parentheses, so the fields are counted from the *last* `)`.
///
/// ```
/// # use pyusage_record::proc_stat::start_ticks;
/// let line = b"4791 (python (x) y) S 1 4791 4791 0 -1 4194560 5 0 0 0 0 0 0 0 20 0 1 0 12345 0 0";
/// assert_eq!(start_ticks(line), Some(12345));
/// ```
pub fn start_ticks(stat: &[u8]) -> Option<u64> {
    let close = stat.iter().rposition(|&c| c == b')')?;
    // After ')' come fields 3, 4, ...: field 22 is the 20th of them.
    let field = stat[close + 1..]
        .split(|c| c.is_ascii_whitespace())
        .filter(|f| !f.is_empty())
        .nth(19)?;
    if field.is_empty() || field.len() > 20 {
        return None;
    }
    field.iter().try_fold(0u64, |n, &d| {
        d.is_ascii_digit()
            .then(|| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::start_ticks;

    #[test]
    fn parses_real_and_hostile_lines() {
        let own = std::fs::read("/proc/self/stat").unwrap();
        assert!(start_ticks(&own).is_some_and(|t| t > 0));
        let line = |comm: &str, ticks: &str| {
            format!("1 ({comm}) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {ticks} 0 0\n")
        };
        assert_eq!(start_ticks(line("a b", "77").as_bytes()), Some(77));
        assert_eq!(start_ticks(line(") 9 9 9", "78").as_bytes()), Some(78));
        assert_eq!(start_ticks(line("x", "7x").as_bytes()), None);
        assert_eq!(
            start_ticks(line("x", "99999999999999999999999").as_bytes()),
            None
        );
        assert_eq!(start_ticks(b"1 (x) S 1 2 3"), None);
        assert_eq!(start_ticks(b"no parenthesis"), None);
        assert_eq!(start_ticks(b""), None);
    }
}
