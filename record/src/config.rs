//! The system configuration file, read by the tracer and the tools alike.
//!
//! The tracer reads it in every Python process, so this parser allocates
//! nothing and understands the subset of TOML the file needs: top-level
//! `key = value` lines with basic or literal strings, booleans and numbers,
//! comments, and tables (whose keys the tracer ignores; the tools read e.g. the
//! `[map_build]` table with a full TOML parser). A line it cannot understand is
//! skipped and counted in [`Config::errors`]; [`Config::apply_reporting`] also
//! says why ([`LineError`]), which is how `pyusage config check` names the line
//! and the reason with the tracer's own rules rather than a copy of them.
//!
//! ```toml
//! enabled = true
//! spool = "/var/spool/pyusage"
//! runtime_dir = "/dev/shm/pyusage"
//! map = "/var/lib/pyusage/map.bin"
//! sample = 1.0
//! ```

/// Where the tracer looks for the configuration unless `PYUSAGE_CONFIG` says otherwise
/// (and the system file allows that). Compiled in: `make install SYSCONFDIR=DIR`
/// builds with `PYUSAGE_SYSTEM_CONFIG=DIR/pyusage/config.toml`.
pub const SYSTEM_CONFIG_PATH: &str = match option_env!("PYUSAGE_SYSTEM_CONFIG") {
    Some(p) => p,
    None => "/etc/pyusage/config.toml",
};

/// Longest path accepted in the configuration.
pub const PATH_MAX: usize = 512;

/// A path held inline, NUL-terminated for system calls.
#[derive(Clone, Copy)]
pub struct InlinePath {
    buf: [u8; PATH_MAX + 1],
    len: usize,
}

impl InlinePath {
    /// Builds a path from bytes; `None` if too long or containing NUL.
    pub fn new(b: &[u8]) -> Option<InlinePath> {
        if b.len() > PATH_MAX || b.contains(&0) {
            return None;
        }
        let mut p = InlinePath {
            buf: [0; PATH_MAX + 1],
            len: b.len(),
        };
        p.buf[..b.len()].copy_from_slice(b);
        Some(p)
    }
    /// The path without the NUL.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    /// The path as a NUL-terminated C string.
    pub fn as_cstr(&self) -> *const core::ffi::c_char {
        self.buf.as_ptr() as *const core::ffi::c_char
    }
    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl core::fmt::Debug for InlinePath {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{:?}",
            self.as_bytes()
                .utf8_chunks()
                .next()
                .map(|c| c.valid())
                .unwrap_or("")
        )
    }
}

/// Every key the tracer understands, with its default.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Master switch for the whole system (`enabled`, default true).
    pub enabled: bool,
    /// Directory the shipped JSON records go to (`spool`).
    pub spool: InlinePath,
    /// Node-local tmpfs directory for raw records (`runtime_dir`).
    pub runtime_dir: InlinePath,
    /// Package map file (`map`); missing or corrupt means raw paths are kept.
    pub map: InlinePath,
    /// Probability that a process is traced, in parts per million (`sample`, 0.0..=1.0).
    pub sample_ppm: u32,
    /// Size of the raw record in bytes (`record_bytes`, default 65536).
    pub record_bytes: u32,
    /// Record every MPI rank, not only rank 0 (`all_ranks`, default false).
    pub all_ranks: bool,
    /// Honour `PYUSAGE_DISABLE=1` from users (`allow_opt_out`, default true).
    pub allow_opt_out: bool,
    /// Honour `PYUSAGE_CONFIG`, `PYUSAGE_SPOOL`, `PYUSAGE_RUNTIME_DIR`, `PYUSAGE_MAP`
    /// from users (`allow_user_config`, default true; only the system file can set it).
    pub allow_user_config: bool,
    /// Ship records to the spool directory (`sinks` names `"spool"`; default).
    pub sink_spool: bool,
    /// Ship records to syslog (`sinks` names `"syslog"`).
    pub sink_syslog: bool,
    /// Where syslog messages go (`syslog`): a datagram socket path (default
    /// `/dev/log`), `udp://IPv4:PORT` or `tcp://IPv4:PORT`.
    pub syslog: InlinePath,
    /// Size of one syslog message; longer records are sent in chunks
    /// (`syslog_message_bytes`, default 2048).
    pub syslog_message_bytes: u32,
    /// Lines that could not be understood: no `key = value`, or a known key
    /// with a value of the wrong type or range. In the system file, any such
    /// line switches tracing off (the tracer cannot know what the admin meant).
    pub errors: u32,
    /// 1-based number of the first such line, 0 if none.
    pub first_error_line: u32,
}

/// All keys, for validation in the tools.
pub const KEYS: [&str; 13] = [
    "enabled",
    "spool",
    "runtime_dir",
    "map",
    "sample",
    "record_bytes",
    "all_ranks",
    "allow_opt_out",
    "allow_user_config",
    "store",
    "sinks",
    "syslog",
    "syslog_message_bytes",
];

/// Why the tracer cannot use a line of a configuration file. Allocation-free
/// (the tracer parses the file in every process); the tools print it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineError {
    /// Neither `key = value`, a comment nor a table header.
    NotKeyValue,
    /// A known key whose value has the wrong type or is out of range; the
    /// key (one of [`KEYS`]).
    BadValue(&'static str),
    /// A path key (`spool`, `runtime_dir`, `map`) with a relative path: it
    /// would be taken from each process's working directory.
    RelativePath(&'static str),
    /// A path key whose string is longer than [`PATH_MAX`] bytes, holds a
    /// NUL, or uses an escape other than `\\` and `\"`.
    BadPath(&'static str),
}

/// What a known key accepts, for [`LineError::BadValue`]; the ranges come
/// from the constants the parser checks against, so the message cannot drift.
fn write_expected(f: &mut core::fmt::Formatter<'_>, key: &str) -> core::fmt::Result {
    use crate::{raw, syslog};
    match key {
        "spool" | "runtime_dir" => f.write_str("an absolute path in quotes"),
        "map" => f.write_str("an absolute path in quotes, or \"\" for no map"),
        "store" => f.write_str("a string: a path, sqlite:PATH or postgresql://..."),
        "sample" => f.write_str("a number from 0 to 1"),
        "record_bytes" => write!(
            f,
            "an integer from {} to {}",
            raw::MIN_CAPACITY,
            raw::MAX_CAPACITY
        ),
        "syslog" => f.write_str(
            "an absolute socket path, udp://IPv4:PORT or tcp://IPv4:PORT, in quotes (no host names)",
        ),
        "syslog_message_bytes" => write!(
            f,
            "an integer from {} to {}",
            syslog::MIN_MESSAGE_BYTES,
            syslog::MAX_MESSAGE_BYTES
        ),
        "sinks" => f.write_str("a one-line array of \"spool\" and/or \"syslog\", at least one"),
        _ => f.write_str("true or false"),
    }
}

impl core::fmt::Display for LineError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LineError::NotKeyValue => f.write_str("not a `key = value` line"),
            LineError::BadValue(key) => {
                write!(f, "`{key}` must be ")?;
                write_expected(f, key)
            }
            LineError::RelativePath(key) => write!(
                f,
                "`{key}` must be an absolute path: a relative one would be taken from each process's working directory"
            ),
            LineError::BadPath(key) => write!(
                f,
                "`{key}`: a path of at most {PATH_MAX} bytes, without NUL, and no escapes but \\\\ and \\\""
            ),
        }
    }
}

impl core::error::Error for LineError {}

impl Default for Config {
    fn default() -> Config {
        let path = |s: &str| {
            InlinePath::new(s.as_bytes()).unwrap_or(InlinePath {
                buf: [0; PATH_MAX + 1],
                len: 0,
            })
        };
        Config {
            enabled: true,
            spool: path("/var/spool/pyusage"),
            runtime_dir: path("/dev/shm/pyusage"),
            map: path("/var/lib/pyusage/map.bin"),
            sample_ppm: 1_000_000,
            record_bytes: 65536,
            all_ranks: false,
            allow_opt_out: true,
            allow_user_config: true,
            sink_spool: true,
            sink_syslog: false,
            syslog: path("/dev/log"),
            syslog_message_bytes: crate::syslog::DEFAULT_MESSAGE_BYTES,
            errors: 0,
            first_error_line: 0,
        }
    }
}

/// A parsed right-hand side.
enum Value<'a> {
    Str(&'a [u8], bool),
    Bool(bool),
    Num(&'a [u8]),
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Splits off a trailing comment that is outside quotes.
fn strip_comment(line: &[u8]) -> &[u8] {
    let mut quote = 0u8;
    let mut escaped = false;
    for (i, &c) in line.iter().enumerate() {
        if quote != 0 {
            if escaped {
                escaped = false;
            } else if c == b'\\' && quote == b'"' {
                escaped = true;
            } else if c == quote {
                quote = 0;
            }
        } else if c == b'"' || c == b'\'' {
            quote = c;
        } else if c == b'#' {
            return &line[..i];
        }
    }
    line
}

fn parse_value(v: &[u8]) -> Option<Value<'_>> {
    match v {
        [b'"', inner @ .., b'"'] => Some(Value::Str(inner, true)),
        [b'\'', inner @ .., b'\''] if !inner.contains(&b'\'') => Some(Value::Str(inner, false)),
        b"true" => Some(Value::Bool(true)),
        b"false" => Some(Value::Bool(false)),
        // Anything that may be a TOML number; `fraction_ppm` and
        // `parse_u32` decide.
        [b'0'..=b'9' | b'+' | b'-', ..] | b"inf" | b"nan" => Some(Value::Num(v)),
        _ => None,
    }
}

/// Unescapes a basic string into an [`InlinePath`] (only `\\` and `\"` are
/// meaningful in paths; other escapes are refused).
fn string_path(s: &[u8], basic: bool) -> Option<InlinePath> {
    if !basic {
        return InlinePath::new(s);
    }
    let mut buf = [0u8; PATH_MAX];
    let mut len = 0;
    let mut it = s.iter();
    while let Some(&c) = it.next() {
        let c = match c {
            b'\\' => match it.next() {
                Some(&e @ (b'\\' | b'"')) => e,
                _ => return None,
            },
            b'"' => return None,
            c => c,
        };
        *buf.get_mut(len)? = c;
        len += 1;
    }
    InlinePath::new(&buf[..len])
}

/// Reads a TOML number (integer or float: `1`, `0.25`, `1e-3`, `+5E-1`,
/// `1_000e-6`, `0x1`, `-0.0`) in `0..=1` as parts per million, rounded to
/// the nearest; a positive value never rounds down to 0 (one part per million
/// is the finest sampling). `inf`, `nan` and anything outside `0..=1` are
/// refused. No allocation: the tracer parses the config in every process.
fn fraction_ppm(v: &[u8]) -> Option<u32> {
    let (negative, body) = match v {
        [b'+', rest @ ..] => (false, rest),
        [b'-', rest @ ..] => (true, rest),
        _ => (false, v),
    };
    // Prefixed integers take no sign in TOML.
    let radix = match body {
        [b'0', b'x', ..] => Some(16),
        [b'0', b'o', ..] => Some(8),
        [b'0', b'b', ..] => Some(2),
        _ => None,
    };
    if let Some(radix) = radix {
        let value = (body.len() > 2 && body.len() == v.len())
            .then(|| toml_digits(&body[2..], radix))
            .flatten()?;
        return (value <= 1).then_some(value as u32 * 1_000_000);
    }
    let (mantissa, exponent) = match body.iter().position(|&c| c == b'e' || c == b'E') {
        Some(e) => (&body[..e], Some(&body[e + 1..])),
        None => (body, None),
    };
    let (int, frac) = match mantissa.iter().position(|&c| c == b'.') {
        Some(dot) => (&mantissa[..dot], Some(&mantissa[dot + 1..])),
        None => (mantissa, None),
    };
    // TOML: no leading zeros, digits on both sides of a dot and underscores
    // only between digits.
    if int.len() > 1 && int[0] == b'0' {
        return None;
    }
    toml_digits(int, 10)?;
    if let Some(f) = frac {
        toml_digits(f, 10)?;
    }
    let exp: i64 = match exponent {
        None => 0,
        Some(e) => {
            let (neg, digits) = match e {
                [b'+', rest @ ..] => (false, rest),
                [b'-', rest @ ..] => (true, rest),
                _ => (false, e),
            };
            let n = toml_digits(digits, 10).filter(|&n| n <= 1000)? as i64;
            if neg {
                -n
            } else {
                n
            }
        }
    };
    // The significant digits, and where the decimal point sits among them
    // once scaled to parts per million.
    let digits = || {
        int.iter()
            .chain(frac.unwrap_or(b""))
            .copied()
            .filter(u8::is_ascii_digit)
    };
    let total = digits().count() as i64;
    let leading_zeros = digits().take_while(|&d| d == b'0').count() as i64;
    if leading_zeros == total {
        return Some(0); // zero, with any sign or exponent
    }
    if negative {
        return None;
    }
    let frac_len =
        digits().count() as i64 - int.iter().filter(|c| c.is_ascii_digit()).count() as i64;
    // value * 10^6 = digits * 10^(exp - frac_len + 6); the integer part has
    // `whole` digits.
    let whole = total + exp - frac_len + 6;
    if whole - leading_zeros > 7 {
        return None; // at least 10^7 ppm
    }
    let mut ppm: u64 = 0;
    let mut next = 0u8;
    for (i, d) in digits().enumerate() {
        let i = i as i64;
        if i < whole {
            ppm = ppm * 10 + u64::from(d - b'0');
        } else if i == whole {
            next = d - b'0';
        }
    }
    for _ in total..whole.max(total) {
        ppm *= 10;
    }
    if next >= 5 {
        ppm += 1;
    }
    (ppm <= 1_000_000).then_some(ppm.max(1) as u32)
}

/// The value of `digits` in `radix`, with TOML's underscores (only between
/// digits); `None` if empty, malformed or huge.
fn toml_digits(digits: &[u8], radix: u32) -> Option<u64> {
    if digits.is_empty() || digits[0] == b'_' || digits[digits.len() - 1] == b'_' {
        return None;
    }
    let mut value: u64 = 0;
    let mut previous_underscore = false;
    for &c in digits {
        if c == b'_' {
            if previous_underscore {
                return None;
            }
            previous_underscore = true;
            continue;
        }
        previous_underscore = false;
        let d = (c as char).to_digit(radix)?;
        value = value
            .saturating_mul(u64::from(radix))
            .saturating_add(u64::from(d));
    }
    Some(value)
}

/// A configured path must be absolute: a relative one would be taken from
/// each process's working directory, where no sweep ever looks. `empty_ok`:
/// an empty string is allowed (`map = ""`: no map).
fn absolute_path(
    key: &'static str,
    s: &[u8],
    basic: bool,
    empty_ok: bool,
) -> Result<InlinePath, LineError> {
    let p = string_path(s, basic).ok_or(LineError::BadPath(key))?;
    if p.as_bytes().first() == Some(&b'/') || (empty_ok && p.is_empty()) {
        Ok(p)
    } else {
        Err(LineError::RelativePath(key))
    }
}

/// `syslog`: an absolute socket path, or `udp://`/`tcp://` with a numeric
/// IPv4 address and a port (the tracer never resolves names).
fn syslog_target_ok(t: &[u8]) -> bool {
    let addr = match t {
        [b'/', ..] => return true,
        _ if t.starts_with(b"udp://") || t.starts_with(b"tcp://") => &t[6..],
        _ => return false,
    };
    parse_ipv4_port(addr).is_some()
}

/// `a.b.c.d:port` as the address bytes and the port.
pub fn parse_ipv4_port(s: &[u8]) -> Option<([u8; 4], u16)> {
    let colon = s.iter().rposition(|&c| c == b':')?;
    let port = crate::job::parse_u32(&s[colon + 1..]).filter(|&p| p > 0 && p <= 65535)? as u16;
    let mut ip = [0u8; 4];
    let mut parts = s[..colon].split(|&c| c == b'.');
    for byte in ip.iter_mut() {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 {
            return None;
        }
        *byte = u8::try_from(crate::job::parse_u32(part)?).ok()?;
    }
    parts.next().is_none().then_some((ip, port))
}

impl Config {
    /// `sinks = ["spool"]`, `["syslog"]` or both: a one-line array of those
    /// names, at least one.
    fn apply_sinks(&mut self, v: &[u8]) -> bool {
        let Some(inner) = v.strip_prefix(b"[").and_then(|v| v.strip_suffix(b"]")) else {
            return false;
        };
        let (mut spool, mut syslog) = (false, false);
        for item in inner.split(|&c| c == b',') {
            match trim(item) {
                b"\"spool\"" | b"'spool'" => spool = true,
                b"\"syslog\"" | b"'syslog'" => syslog = true,
                b"" => {}
                _ => return false,
            }
        }
        if !spool && !syslog {
            return false;
        }
        self.sink_spool = spool;
        self.sink_syslog = syslog;
        true
    }

    /// Applies the settings in `text` on top of `self`.
    ///
    /// `system` is true for the compiled-in system file: only it may set
    /// `allow_user_config` and `allow_opt_out`.
    pub fn apply(&mut self, text: &[u8], system: bool) {
        self.apply_reporting(text, system, |_, _| {});
    }

    /// [`Config::apply`], calling `report` with the 1-based line number and
    /// the reason for every line it cannot use (also counted in
    /// [`Config::errors`]). Allocation-free, like `apply`.
    ///
    /// ```
    /// use pyusage_record::config::{Config, LineError};
    ///
    /// let mut c = Config::default();
    /// let mut why = Vec::new();
    /// c.apply_reporting(b"sample = 0.5\nspool = \"spool\"\n", true, |line, e| {
    ///     why.push((line, e))
    /// });
    /// assert_eq!(c.sample_ppm, 500_000);
    /// assert_eq!(why, [(2, LineError::RelativePath("spool"))]);
    /// assert_eq!(c.spool.as_bytes(), b"/var/spool/pyusage"); // the default stays
    /// ```
    pub fn apply_reporting(
        &mut self,
        text: &[u8],
        system: bool,
        mut report: impl FnMut(u32, LineError),
    ) {
        let mut in_table = false;
        for (n, raw_line) in text.split(|&c| c == b'\n').enumerate() {
            let line = trim(strip_comment(raw_line));
            if line.is_empty() {
                continue;
            }
            if line.starts_with(b"[") {
                in_table = true;
                continue;
            }
            if in_table {
                continue;
            }
            if let Err(why) = self.apply_line(line, system) {
                let n = n as u32 + 1;
                self.errors += 1;
                if self.first_error_line == 0 {
                    self.first_error_line = n;
                }
                report(n, why);
            }
        }
    }

    fn apply_line(&mut self, line: &[u8], system: bool) -> Result<(), LineError> {
        let Some(eq) = line.iter().position(|&c| c == b'=') else {
            return Err(LineError::NotKeyValue);
        };
        let key = trim(&line[..eq]);
        let Some(known) = KEYS.iter().copied().find(|k| k.as_bytes() == key) else {
            // Keys the tracer does not use are the tools' (`pyusage config
            // check` names any that nobody knows): not an error here, so a
            // key added for the tools never switches tracing off.
            return Ok(());
        };
        let bad = LineError::BadValue(known);
        if known == "sinks" {
            return self
                .apply_sinks(trim(&line[eq + 1..]))
                .then_some(())
                .ok_or(bad);
        }
        let Some(value) = parse_value(trim(&line[eq + 1..])) else {
            return Err(bad);
        };
        match (known, value) {
            ("enabled", Value::Bool(b)) => self.enabled = b,
            ("all_ranks", Value::Bool(b)) => self.all_ranks = b,
            // Only the system file decides these; elsewhere they are read
            // (valid lines) and ignored.
            ("allow_opt_out", Value::Bool(b)) => {
                self.allow_opt_out = if system { b } else { self.allow_opt_out }
            }
            ("allow_user_config", Value::Bool(b)) => {
                self.allow_user_config = if system { b } else { self.allow_user_config }
            }
            ("spool", Value::Str(s, basic)) => self.spool = absolute_path(known, s, basic, false)?,
            ("runtime_dir", Value::Str(s, basic)) => {
                self.runtime_dir = absolute_path(known, s, basic, false)?
            }
            // An empty map path means no map (raw paths are recorded).
            ("map", Value::Str(s, basic)) => self.map = absolute_path(known, s, basic, true)?,
            // The store (`pyusage ingest`'s database) is the tools' business:
            // the tracer checks only that it is a string and keeps nothing.
            ("store", Value::Str(..)) => {}
            ("syslog", Value::Str(s, basic)) => {
                self.syslog = string_path(s, basic)
                    .filter(|p| syslog_target_ok(p.as_bytes()))
                    .ok_or(bad)?
            }
            ("syslog_message_bytes", Value::Num(v)) => {
                self.syslog_message_bytes = crate::job::parse_u32(v)
                    .filter(|b| {
                        (crate::syslog::MIN_MESSAGE_BYTES..=crate::syslog::MAX_MESSAGE_BYTES)
                            .contains(b)
                    })
                    .ok_or(bad)?
            }
            ("sample", Value::Num(v)) => self.sample_ppm = fraction_ppm(v).ok_or(bad)?,
            ("record_bytes", Value::Num(v)) => {
                self.record_bytes = crate::job::parse_u32(v)
                    .filter(|b| (crate::raw::MIN_CAPACITY..=crate::raw::MAX_CAPACITY).contains(b))
                    .ok_or(bad)?
                    & !7
            }
            // A known key with a value of the wrong type or range.
            _ => return Err(bad),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinks_and_syslog_keys() {
        let mut c = Config::default();
        assert!((c.sink_spool, c.sink_syslog) == (true, false));
        c.apply(
            b"sinks = [\"spool\", 'syslog']\nsyslog = \"udp://10.1.2.3:514\"\nsyslog_message_bytes = 1024\n",
            true,
        );
        assert_eq!(c.errors, 0);
        assert!(c.sink_spool && c.sink_syslog);
        assert_eq!(c.syslog.as_bytes(), b"udp://10.1.2.3:514");
        assert_eq!(c.syslog_message_bytes, 1024);
        let mut c = Config::default();
        c.apply(b"sinks = [\"syslog\"]\n", true);
        assert!(!c.sink_spool && c.sink_syslog && c.errors == 0);
        for bad in [
            &b"sinks = []"[..],
            b"sinks = [\"kafka\"]",
            b"sinks = \"spool\"",
            b"syslog = \"udp://loghost:514\"",
            b"syslog = \"tcp://1.2.3.4\"",
            b"syslog = \"dev/log\"",
            b"syslog_message_bytes = 100",
            b"syslog_message_bytes = 100000",
        ] {
            let mut c = Config::default();
            c.apply(bad, true);
            assert_eq!(c.errors, 1, "{}", core::str::from_utf8(bad).unwrap());
        }
        assert_eq!(
            parse_ipv4_port(b"127.0.0.1:6514"),
            Some(([127, 0, 0, 1], 6514))
        );
        assert_eq!(parse_ipv4_port(b"256.0.0.1:1"), None);
    }

    #[test]
    fn unknown_keys_are_not_errors_but_bad_values_are() {
        let mut c = Config::default();
        c.apply(
            b"store = \"/var/lib/pyusage/usage.db\"\nsinks = [\"spool\"]\n",
            true,
        );
        assert_eq!(c.errors, 0);
        c.apply(b"enabled = 1\n", true);
        assert_eq!((c.errors, c.first_error_line), (1, 1));
    }

    #[test]
    fn reads_every_key() {
        let mut c = Config::default();
        c.apply(
            b"# site config\nenabled = false\nspool = \"/s/p\" # trailing\nruntime_dir = '/dev/shm/x'\n\
              map = \"/m\\\"q\"\nsample = 0.25\nrecord_bytes = 131072\nall_ranks = true\n\
              allow_opt_out = false\nstore = \"postgresql:///usage\"\n[map_build]\nroots = [\"/opt\"]\n",
            true,
        );
        assert!(!c.enabled && c.all_ranks && !c.allow_opt_out);
        assert_eq!(c.spool.as_bytes(), b"/s/p");
        assert_eq!(c.runtime_dir.as_bytes(), b"/dev/shm/x");
        assert_eq!(c.map.as_bytes(), b"/m\"q");
        assert_eq!(
            (c.sample_ppm, c.record_bytes, c.errors),
            (250_000, 131072, 0)
        );
    }

    #[test]
    fn bad_lines_are_counted_and_keep_defaults() {
        let mut c = Config::default();
        c.apply(
            b"enabled = maybe\nsample = 2\nrecord_bytes = 12\nspool = \"unterminated\nnonsense\n",
            false,
        );
        assert!(c.enabled);
        assert_eq!(c.sample_ppm, 1_000_000);
        assert_eq!((c.errors, c.first_error_line), (5, 1));
    }

    #[test]
    fn users_cannot_lift_admin_restrictions() {
        let mut c = Config::default();
        c.apply(b"allow_user_config = false\n", true);
        c.apply(b"allow_user_config = true\nallow_opt_out = false\n", false);
        assert!(!c.allow_user_config);
        assert!(c.allow_opt_out);
    }

    #[test]
    fn fractions_are_any_toml_number_in_range() {
        for (text, ppm) in [
            ("1", 1_000_000),
            ("0", 0),
            ("+1", 1_000_000),
            ("1.0", 1_000_000),
            ("0.25", 250_000),
            ("0.000001", 1),
            ("1e-3", 1_000),
            ("1E-3", 1_000),
            ("1e-03", 1_000),
            ("+5e-1", 500_000),
            ("2.5e-1", 250_000),
            ("1_000e-6", 1_000),
            ("0.000_5", 500),
            ("10e-1", 1_000_000),
            ("100e-2", 1_000_000),
            ("0.1e1", 1_000_000),
            ("-0.0", 0),
            ("0e5", 0),
            ("1e-9", 1),
            ("0.0000004", 1),
            ("0.0000015", 2),
            ("0.3333333", 333_333),
            ("0x1", 1_000_000),
            ("0b0", 0),
            ("0o1", 1_000_000),
        ] {
            assert_eq!(fraction_ppm(text.as_bytes()), Some(ppm), "{text}");
        }
        for text in [
            "1.5", "-0.5", "2", "11e-1", "1e3", "inf", "+inf", "nan", "-nan", "1.", ".5", "01",
            "1__0", "_1", "1_", "1e", "1e+", "0x", "0x2", "+0x1", "1.0.0", "1e-3e", "e-3",
            "1e99999", "",
        ] {
            assert_eq!(fraction_ppm(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn every_bad_line_says_why() {
        let mut got = [None; 8];
        let mut c = Config::default();
        c.apply_reporting(
            b"nonsense\nenabled = 1\nspool = \"rel/dir\"\nmap = \"/a\\qb\"\n\
              sample = 2\nsinks = []\nfuture_key = [1, 2]\n[map_build]\nsample = 7\n",
            true,
            |line, why| got[line as usize] = Some(why),
        );
        assert_eq!(
            got,
            [
                None,
                Some(LineError::NotKeyValue),
                Some(LineError::BadValue("enabled")),
                Some(LineError::RelativePath("spool")),
                Some(LineError::BadPath("map")),
                Some(LineError::BadValue("sample")),
                Some(LineError::BadValue("sinks")),
                None,
            ]
        );
        assert_eq!((c.errors, c.first_error_line), (6, 1));
        // The ranges in the message are the ones the parser checks.
        let said = LineError::BadValue("record_bytes").to_string();
        assert!(said.contains("4096") && said.contains("16777216"), "{said}");
    }

    #[test]
    fn configured_paths_are_absolute() {
        let mut c = Config::default();
        c.apply(
            b"spool = \"spool\"\nruntime_dir = './rt'\nmap = \"m.bin\"\nsample = 1e-3\n",
            true,
        );
        assert_eq!((c.errors, c.first_error_line), (3, 1));
        assert_eq!(c.map.as_bytes(), b"/var/lib/pyusage/map.bin");
        c.apply(b"map = \"\"\n", true);
        assert!(c.map.is_empty());
        assert_eq!(c.spool.as_bytes(), b"/var/spool/pyusage");
        assert_eq!(c.runtime_dir.as_bytes(), b"/dev/shm/pyusage");
        assert_eq!(c.sample_ppm, 1_000);
    }
}
