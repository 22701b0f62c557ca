//! A tiny JSON writer into a fixed buffer, for code that cannot allocate.

/// Writes `v` in decimal into `buf`, returning the digits.
pub fn decimal(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &buf[at..]
}

/// Appends bytes to a caller-provided buffer; remembers if anything did not fit.
pub struct Out<'a> {
    buf: &'a mut [u8],
    len: usize,
    overflow: bool,
}

impl<'a> Out<'a> {
    /// Wraps an empty buffer.
    pub fn new(buf: &'a mut [u8]) -> Out<'a> {
        Out {
            buf,
            len: 0,
            overflow: false,
        }
    }

    /// Bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// True if some output was dropped for lack of room.
    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    /// Appends raw bytes (no escaping).
    pub fn raw(&mut self, b: &[u8]) {
        let end = self.len + b.len();
        if end > self.buf.len() {
            self.overflow = true;
            return;
        }
        self.buf[self.len..end].copy_from_slice(b);
        self.len = end;
    }

    /// Appends a JSON string literal. Invalid UTF-8 becomes U+FFFD so the
    /// output is always valid JSON.
    pub fn string(&mut self, s: &[u8]) {
        self.raw(b"\"");
        for chunk in s.utf8_chunks() {
            for c in chunk.valid().chars() {
                match c {
                    '"' => self.raw(b"\\\""),
                    '\\' => self.raw(b"\\\\"),
                    '\n' => self.raw(b"\\n"),
                    '\r' => self.raw(b"\\r"),
                    '\t' => self.raw(b"\\t"),
                    c if (c as u32) < 0x20 || c == '\u{7f}' => {
                        const HEX: &[u8; 16] = b"0123456789abcdef";
                        let v = c as usize;
                        self.raw(&[b'\\', b'u', b'0', b'0', HEX[v >> 4], HEX[v & 15]]);
                    }
                    c => {
                        let mut tmp = [0u8; 4];
                        self.raw(c.encode_utf8(&mut tmp).as_bytes());
                    }
                }
            }
            if !chunk.invalid().is_empty() {
                self.raw("\u{fffd}".as_bytes());
            }
        }
        self.raw(b"\"");
    }

    /// Appends a string literal, or `null` for `None`.
    pub fn opt_string(&mut self, s: Option<&[u8]>) {
        match s {
            Some(s) => self.string(s),
            None => self.raw(b"null"),
        }
    }

    /// Appends a signed integer.
    pub fn int(&mut self, v: i64) {
        if v < 0 {
            self.raw(b"-");
        }
        let mut digits = [0u8; 20];
        self.raw(decimal(v.unsigned_abs(), &mut digits));
    }

    /// Appends an integer, or `null`.
    pub fn opt_int(&mut self, v: Option<i64>) {
        match v {
            Some(v) => self.int(v),
            None => self.raw(b"null"),
        }
    }

    /// Appends `"key":`, preceded by a comma unless `first`.
    pub fn key(&mut self, first: bool, key: &str) {
        if !first {
            self.raw(b",");
        }
        self.string(key.as_bytes());
        self.raw(b":");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_make_valid_json() {
        let mut buf = [0u8; 128];
        let mut o = Out::new(&mut buf);
        o.string(b"a\"b\\c\n\x01\xffz");
        let parsed: String = serde_json::from_slice(o.as_bytes()).unwrap();
        assert_eq!(parsed, "a\"b\\c\n\u{1}\u{fffd}z");
    }

    #[test]
    fn overflow_is_reported_not_panicked() {
        let mut buf = [0u8; 4];
        let mut o = Out::new(&mut buf);
        o.string(b"too long");
        assert!(o.overflowed());
        o.int(-42);
    }

    #[test]
    fn integers() {
        let mut buf = [0u8; 64];
        let mut o = Out::new(&mut buf);
        o.int(i64::MIN);
        o.raw(b" ");
        o.int(0);
        assert_eq!(o.as_bytes(), b"-9223372036854775808 0");
    }
}
