//! The syslog form of a shipped record: one RFC 5424 message per chunk.
//!
//! A record (one line of JSON) longer than a message allows is cut into
//! numbered chunks. Every chunk says which record it belongs to, its
//! number, the total, its own length and a checksum of the whole record, so
//! that `pyusage ingest` can put a record together from whatever order the
//! messages arrive in, and refuse one that is incomplete or corrupt:
//!
//! ```text
//! <14>1 - - pyusage 4791 record - PYU1 9c90399a74160ef9938d0c04c750457a 2/3 1830 5a0c8e1f33b2d6a4 ...chunk...
//! ```
//!
//! That is facility `user`, severity `info`, no timestamp or hostname (the
//! daemon fills in its own), app `pyusage`, the pid, message id `record`,
//! then [`MARKER`], the record id, `n/total`, the chunk's length in bytes,
//! the FNV-1a 64 checksum of the whole record in hex, one space and the
//! chunk itself. The length lets a reader ignore what a daemon appends
//! after the message (rsyslog's trusted properties, `@[_PID=.. _UID=..]`).
//!
//! Building a message needs no allocation: [`message`] writes into the
//! caller's buffer. Parsing one is [`parse_chunk`].

/// Marks a pyusage chunk inside a syslog line (and its format's version).
pub const MARKER: &[u8] = b"PYU1 ";

/// Default size of one syslog message in bytes (`syslog_message_bytes`).
pub const DEFAULT_MESSAGE_BYTES: u32 = 2048;
/// Smallest message size accepted in the configuration.
pub const MIN_MESSAGE_BYTES: u32 = 512;
/// Largest message size accepted (a stack buffer in the tracer holds one).
pub const MAX_MESSAGE_BYTES: u32 = 8192;

/// Most chunks one record may have (bounds what a reader keeps per record).
pub const MAX_CHUNKS: u32 = 99_999;

/// Room for everything before the chunk's bytes: the RFC 5424 header
/// (`<14>1 - - pyusage ` + pid + ` record - `) and the chunk header.
pub const HEADER_ROOM: usize = 40 + 10 + MARKER.len() + 32 + 1 + 11 + 1 + 5 + 1 + 16 + 1;

/// FNV-1a, 64 bits: the checksum of a whole record.
pub fn checksum(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Bytes of record per chunk for a message size.
pub fn chunk_bytes(message_bytes: u32) -> usize {
    (message_bytes.clamp(MIN_MESSAGE_BYTES, MAX_MESSAGE_BYTES) as usize) - HEADER_ROOM
}

/// How many chunks `record_len` bytes take; `None` past [`MAX_CHUNKS`].
pub fn chunk_count(record_len: usize, message_bytes: u32) -> Option<u32> {
    let n = record_len.div_ceil(chunk_bytes(message_bytes)).max(1);
    u32::try_from(n).ok().filter(|&n| n <= MAX_CHUNKS)
}

/// A cursor over a fixed buffer.
struct Cursor<'a> {
    buf: &'a mut [u8],
    len: usize,
    ok: bool,
}

impl Cursor<'_> {
    fn put(&mut self, b: &[u8]) {
        match self.buf.get_mut(self.len..self.len + b.len()) {
            Some(dst) => {
                dst.copy_from_slice(b);
                self.len += b.len();
            }
            None => self.ok = false,
        }
    }
    fn num(&mut self, v: u64) {
        let mut d = [0u8; 20];
        self.put(crate::json::decimal(v, &mut d));
    }
    fn hex(&mut self, v: u64) {
        let mut h = [0u8; 16];
        for (i, c) in h.iter_mut().enumerate() {
            *c = b"0123456789abcdef"[((v >> (60 - 4 * i)) & 0xf) as usize];
        }
        self.put(&h);
    }
}

/// Writes message `n` (1-based) of `record` into `buf`; returns its length,
/// or `None` if `n` is out of range or `buf` is too small.
pub fn message(
    buf: &mut [u8],
    record: &[u8],
    message_bytes: u32,
    n: u32,
    pid: u32,
    id_hex: &[u8; 32],
    sum: u64,
) -> Option<usize> {
    let per = chunk_bytes(message_bytes);
    let total = chunk_count(record.len(), message_bytes)?;
    if n == 0 || n > total {
        return None;
    }
    let start = (n as usize - 1) * per;
    let chunk = &record[start..(start + per).min(record.len())];
    let mut c = Cursor {
        buf,
        len: 0,
        ok: true,
    };
    c.put(b"<14>1 - - pyusage ");
    c.num(u64::from(pid));
    c.put(b" record - ");
    c.put(MARKER);
    c.put(id_hex);
    c.put(b" ");
    c.num(u64::from(n));
    c.put(b"/");
    c.num(u64::from(total));
    c.put(b" ");
    c.num(chunk.len() as u64);
    c.put(b" ");
    c.hex(sum);
    c.put(b" ");
    c.put(chunk);
    c.ok.then_some(c.len)
}

/// One chunk found in a line a syslog daemon wrote.
#[derive(Debug, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// The record id (32 lowercase hex digits).
    pub id: &'a [u8],
    /// This chunk's number, 1-based.
    pub n: u32,
    /// How many chunks the record has.
    pub total: u32,
    /// Checksum of the whole record.
    pub sum: u64,
    /// The chunk's bytes.
    pub data: &'a [u8],
    /// What follows the chunk on the line (a daemon's annotations).
    pub after: &'a [u8],
}

fn split_word(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let sp = s.iter().position(|&c| c == b' ')?;
    Some((&s[..sp], &s[sp + 1..]))
}

fn number(s: &[u8], max: u64) -> Option<u64> {
    if s.is_empty() || s.len() > 12 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = s.iter().fold(0u64, |v, &d| v * 10 + u64::from(d - b'0'));
    (v <= max).then_some(v)
}

/// Finds and parses a chunk in `line`. `Ok(None)`: no [`MARKER`] in the line
/// (another program's message); `Err`: a chunk that is malformed, with why.
pub fn parse_chunk(line: &[u8]) -> Result<Option<Chunk<'_>>, &'static str> {
    let Some(at) = line.windows(MARKER.len()).position(|w| w == MARKER) else {
        return Ok(None);
    };
    let rest = &line[at + MARKER.len()..];
    let (id, rest) = split_word(rest).ok_or("chunk header cut short")?;
    if id.len() != 32
        || !id
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
    {
        return Err("record id is not 32 lowercase hex digits");
    }
    let (nt, rest) = split_word(rest).ok_or("chunk header cut short")?;
    let slash = nt.iter().position(|&c| c == b'/').ok_or("no n/total")?;
    let total = number(&nt[slash + 1..], u64::from(MAX_CHUNKS)).ok_or("bad chunk total")? as u32;
    let n = number(&nt[..slash], u64::from(total)).ok_or("bad chunk number")? as u32;
    if n == 0 {
        return Err("bad chunk number");
    }
    let (len, rest) = split_word(rest).ok_or("chunk header cut short")?;
    let len = number(len, u64::from(MAX_MESSAGE_BYTES)).ok_or("bad chunk length")? as usize;
    let (sum, rest) = split_word(rest).ok_or("chunk header cut short")?;
    if sum.len() != 16 {
        return Err("bad checksum");
    }
    let mut s = 0u64;
    for &c in sum {
        let d = (c as char).to_digit(16).ok_or("bad checksum")?;
        s = (s << 4) | u64::from(d);
    }
    if rest.len() < len {
        return Err("chunk shorter than its stated length (cut by the daemon?)");
    }
    Ok(Some(Chunk {
        id,
        n,
        total,
        sum: s,
        data: &rest[..len],
        after: &rest[len..],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_through_the_parser() {
        let record: Vec<u8> = (0..5000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let id = *b"0123456789abcdef0123456789abcdef";
        let sum = checksum(&record);
        let total = chunk_count(record.len(), 1024).unwrap();
        assert!(total > 5);
        let mut back = Vec::new();
        for n in 1..=total {
            let mut buf = [0u8; 1024];
            let len = message(&mut buf, &record, 1024, n, 42, &id, sum).unwrap();
            assert!(len <= 1024);
            let mut line = b"Dec  2 03:00:00 host pyusage[42]: ".to_vec();
            line.extend_from_slice(&buf[..len]);
            line.extend_from_slice(b" @[_PID=42 _UID=1000]");
            let c = parse_chunk(&line).unwrap().unwrap();
            assert_eq!((c.id, c.n, c.total, c.sum), (&id[..], n, total, sum));
            assert_eq!(c.after, b" @[_PID=42 _UID=1000]");
            back.extend_from_slice(c.data);
        }
        assert_eq!(back, record);
        assert!(message(&mut [0u8; 1024], &record, 1024, total + 1, 1, &id, sum).is_none());
        assert!(message(&mut [0u8; 100], &record, 1024, 1, 1, &id, sum).is_none());
    }

    #[test]
    fn malformed_chunks_are_refused() {
        assert_eq!(parse_chunk(b"an unrelated message"), Ok(None));
        for bad in [
            &b"PYU1 0123 1/1 2 0000000000000000 ab"[..],
            b"PYU1 0123456789abcdef0123456789abcdef 2/1 2 0000000000000000 ab",
            b"PYU1 0123456789abcdef0123456789abcdef 0/1 2 0000000000000000 ab",
            b"PYU1 0123456789abcdef0123456789abcdef 1/1 9 0000000000000000 ab",
            b"PYU1 0123456789abcdef0123456789abcdef 1/1 2 00000000000000zz ab",
            b"PYU1 0123456789abcdef0123456789abcdef",
        ] {
            assert!(
                parse_chunk(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
