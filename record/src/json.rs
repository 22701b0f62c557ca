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

/// A position in an [`Out`], see [`Out::mark`].
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    len: usize,
    overflow: bool,
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

    /// Bytes still free.
    pub fn room(&self) -> usize {
        self.buf.len() - self.len
    }

    /// Where the output stands now, to [`rewind`](Self::rewind) to.
    pub fn mark(&self) -> Mark {
        Mark {
            len: self.len,
            overflow: self.overflow,
        }
    }

    /// Drops everything written since `mark` (an item that did not fit).
    pub fn rewind(&mut self, mark: Mark) {
        self.len = mark.len.min(self.len);
        self.overflow = mark.overflow;
    }

    /// Takes up to `n` bytes off the end of the free space, for the caller
    /// to use as scratch; the output can no longer grow into them.
    pub fn take_tail(&mut self, n: usize) -> &'a mut [u8] {
        let buf = core::mem::take(&mut self.buf);
        let keep = buf.len() - n.min(buf.len() - self.len);
        let (head, tail) = buf.split_at_mut(keep);
        self.buf = head;
        tail
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
        let plain = |b: &u8| (0x20..0x7f).contains(b) && *b != b'"' && *b != b'\\';
        let mut rest = s;
        while !rest.is_empty() {
            // Printable ASCII goes out as is, a run at a time; the rest (up to
            // the next ASCII byte, which always starts a character) is escaped.
            let n = rest.iter().position(|b| !plain(b)).unwrap_or(rest.len());
            self.raw(&rest[..n]);
            let m = rest[n..]
                .iter()
                .position(plain)
                .map_or(rest.len(), |k| n + k);
            self.escaped(&rest[n..m]);
            rest = &rest[m..];
        }
        self.raw(b"\"");
    }

    fn escaped(&mut self, s: &[u8]) {
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
        if key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            // The record's own keys: nothing to escape.
            self.raw(b"\"");
            self.raw(key.as_bytes());
            self.raw(b"\":");
        } else {
            self.string(key.as_bytes());
            self.raw(b":");
        }
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
    fn any_bytes_read_back_as_their_lossy_text() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut buf = vec![0u8; 1 << 12];
        for round in 0..3000 {
            let s: Vec<u8> = (0..round % 64)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    // Mostly ASCII, some high bytes and controls.
                    match state % 4 {
                        0 => (state >> 8) as u8,
                        1 => 0x80 | (state >> 8) as u8 & 0x3f,
                        _ => b' ' + (state >> 8) as u8 % 95,
                    }
                })
                .collect();
            let mut o = Out::new(&mut buf);
            o.string(&s);
            let parsed: String = serde_json::from_slice(o.as_bytes()).unwrap();
            assert_eq!(parsed, String::from_utf8_lossy(&s), "{s:?}");
        }
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
    fn rewind_and_tail() {
        let mut buf = [0u8; 16];
        let mut o = Out::new(&mut buf);
        o.raw(b"ab");
        let tail = o.take_tail(10);
        assert_eq!(tail.len(), 10);
        assert_eq!(o.room(), 4);
        let m = o.mark();
        o.raw(b"cdefg");
        assert!(o.overflowed());
        o.raw(b"cd");
        o.rewind(m);
        assert!(!o.overflowed());
        assert_eq!(o.as_bytes(), b"ab");
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
