//! Records from files that a syslog daemon wrote: chunks put back together.
//!
//! Each line that carries a pyusage chunk (`pyusage_record::syslog`) is
//! grouped by record id and checksum; a group whose chunks `1..=total` all
//! arrived, with matching lengths and checksum, is a record. Lines may come
//! in any order and twice (a chunk re-sent by the sweep after a partial
//! send); other programs' lines are skipped. A record whose chunks did not
//! all arrive is reported and never stored, unless another copy of the same
//! record (the sweep's) arrived whole.
//!
//! Who sent it: pyusage's rsyslog layout (`packaging/rsyslog/pyusage.conf`)
//! writes `TIMESTAMP HOST uid=UID MESSAGE`, where `UID` is the sender's
//! uid as the kernel told imuxsock (its trusted properties). Only that
//! third field is believed, never anything inside the message. A record
//! sent by root (the sweep) keeps the uid it states, which the sweep took
//! from the raw file's owner; a line without the field (another layout, a
//! remote sender) keeps the uid the record states, as NDJSON does.

use pyusage_record::syslog::{checksum, parse_chunk};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A record put back together.
#[derive(Debug)]
pub struct Whole {
    /// The record's id.
    pub id: String,
    /// The record's JSON.
    pub json: Vec<u8>,
    /// The sender's uid as the daemon's trusted properties say, if they do.
    pub sender: Option<u32>,
    /// Line number of its first chunk.
    pub line: usize,
}

/// What a syslog file held.
#[derive(Debug, Default)]
pub struct Reassembled {
    /// Complete records.
    pub whole: Vec<Whole>,
    /// Records not complete, and malformed chunks: `(line, why)`.
    pub problems: Vec<(usize, String)>,
}

#[derive(Default)]
struct Partial {
    total: u32,
    chunks: BTreeMap<u32, Vec<u8>>,
    sender: Option<Option<u32>>,
    mixed_senders: bool,
    line: usize,
}

/// The trusted uid field of pyusage's layout: the third word, `uid=DIGITS`.
fn sender_of(line: &[u8]) -> Option<u32> {
    let mut words = line.splitn(4, |&c| c == b' ');
    let field = words.nth(2)?;
    let digits = field.strip_prefix(b"uid=")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Reassembles every record in `text` (the whole file).
pub fn reassemble(text: &[u8]) -> Reassembled {
    let mut out = Reassembled::default();
    let mut groups: HashMap<(Vec<u8>, u64), Partial> = HashMap::new();
    let mut order: Vec<(Vec<u8>, u64)> = Vec::new();
    for (i, line) in text.split(|&c| c == b'\n').enumerate() {
        let n = i + 1;
        let chunk = match parse_chunk(line) {
            Ok(Some(c)) => c,
            Ok(None) => continue,
            Err(why) => {
                out.problems.push((n, format!("malformed chunk: {why}")));
                continue;
            }
        };
        let key = (chunk.id.to_vec(), chunk.sum);
        let p = groups.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            Partial {
                total: chunk.total,
                line: n,
                ..Partial::default()
            }
        });
        if chunk.total != p.total {
            out.problems.push((
                n,
                format!(
                    "record {}: chunk says {} chunks, an earlier one {}",
                    String::from_utf8_lossy(chunk.id),
                    chunk.total,
                    p.total
                ),
            ));
            continue;
        }
        let sender = sender_of(line);
        match p.sender {
            None => p.sender = Some(sender),
            Some(s) if s != sender => p.mixed_senders = true,
            Some(_) => {}
        }
        p.chunks
            .entry(chunk.n)
            .or_insert_with(|| chunk.data.to_vec());
    }
    let mut done: HashSet<Vec<u8>> = HashSet::new();
    let mut incomplete = Vec::new();
    for key in order {
        let p = &groups[&key];
        let id = String::from_utf8_lossy(&key.0).into_owned();
        if p.chunks.len() as u32 != p.total {
            incomplete.push((
                key.0.clone(),
                p.line,
                format!(
                    "record {id}: {} of {} chunks arrived (first missing: {}); not stored",
                    p.chunks.len(),
                    p.total,
                    (1..=p.total)
                        .find(|n| !p.chunks.contains_key(n))
                        .unwrap_or(0)
                ),
            ));
            continue;
        }
        if p.mixed_senders {
            out.problems.push((
                p.line,
                format!("record {id}: chunks from different senders; not stored"),
            ));
            continue;
        }
        let json: Vec<u8> = p.chunks.values().flatten().copied().collect();
        if checksum(&json) != key.1 {
            out.problems.push((
                p.line,
                format!("record {id}: checksum does not match its chunks; not stored"),
            ));
            continue;
        }
        done.insert(key.0.clone());
        out.whole.push(Whole {
            id,
            json,
            sender: p.sender.flatten(),
            line: p.line,
        });
    }
    // A copy that arrived whole (the sweep's) supersedes one that did not.
    for (id, line, why) in incomplete {
        if !done.contains(&id) {
            out.problems.push((line, why));
        }
    }
    out.problems.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyusage_record::syslog::message;

    /// The lines a daemon in pyusage's layout would write for `json`.
    fn lines(json: &[u8], id: &[u8; 32], uid: u32, size: u32) -> Vec<Vec<u8>> {
        let total = pyusage_record::syslog::chunk_count(json.len(), size).unwrap();
        (1..=total)
            .map(|n| {
                let mut buf = vec![0u8; 8192];
                let len = message(&mut buf, json, size, n, 7, id, checksum(json)).unwrap();
                let mut l = format!("2026-12-02T03:00:00+00:00 node uid={uid} ").into_bytes();
                l.extend_from_slice(&buf[..len]);
                l
            })
            .collect()
    }

    fn join(ls: &[Vec<u8>]) -> Vec<u8> {
        ls.join(&b'\n')
    }

    const ID: &[u8; 32] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn out_of_order_duplicated_chunks_make_one_record() {
        let json: Vec<u8> = (0..3000).map(|i| b'a' + (i % 26) as u8).collect();
        let mut ls = lines(&json, ID, 1000, 512);
        let n = ls.len();
        assert!(n > 5);
        ls.reverse();
        ls.push(ls[2].clone());
        ls.insert(1, b"Dec  2 other program: hello PYU".to_vec());
        let r = reassemble(&join(&ls));
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(r.whole.len(), 1);
        assert_eq!(r.whole[0].json, json);
        assert_eq!(r.whole[0].sender, Some(1000));
    }

    #[test]
    fn missing_chunks_are_reported_not_stored() {
        let json = vec![b'x'; 3000];
        let mut ls = lines(&json, ID, 1000, 512);
        ls.remove(2);
        let r = reassemble(&join(&ls));
        assert!(r.whole.is_empty());
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        assert!(
            r.problems[0].1.contains("first missing: 3"),
            "{:?}",
            r.problems
        );
        // ... unless another copy of the record (the sweep's) came whole.
        let later = vec![b'y'; 3100];
        ls.extend(lines(&later, ID, 0, 512));
        let r = reassemble(&join(&ls));
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(r.whole.len(), 1);
        assert_eq!(
            (r.whole[0].json.clone(), r.whole[0].sender),
            (later, Some(0))
        );
    }

    #[test]
    fn chunks_from_two_senders_are_refused() {
        let json = vec![b'x'; 1000];
        let mut ls = lines(&json, ID, 1000, 512);
        let other = lines(&json, ID, 1001, 512);
        ls[1] = other[1].clone();
        let r = reassemble(&join(&ls));
        assert!(r.whole.is_empty());
        assert!(
            r.problems[0].1.contains("different senders"),
            "{:?}",
            r.problems
        );
        // A uid written inside the message is never believed.
        let mut fake = b"2026-12-02T03:00:00+00:00 node ".to_vec();
        fake.extend_from_slice(b"uid=0 ");
        assert_eq!(sender_of(b"2026 node x uid=0 PYU1"), None);
        assert_eq!(sender_of(&[&fake[..], b"PYU1"].concat()), Some(0));
    }

    /// A bounded deterministic fuzz run: random lines, random cuts and
    /// byte flips of real chunks; the reassembler never panics, and
    /// whatever it calls whole matches its checksum.
    #[test]
    fn random_input_never_panics() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let json: Vec<u8> = (0..4000).map(|i| b' ' + (i % 90) as u8).collect();
        let base = lines(&json, ID, 1000, 512);
        for _ in 0..3000 {
            let mut ls = base.clone();
            for _ in 0..(rnd() % 6) {
                let i = (rnd() as usize) % ls.len();
                match rnd() % 5 {
                    0 => {
                        let cut = (rnd() as usize) % (ls[i].len() + 1);
                        ls[i].truncate(cut);
                    }
                    1 => {
                        let j = (rnd() as usize) % ls[i].len().max(1);
                        if let Some(b) = ls[i].get_mut(j) {
                            *b = rnd() as u8;
                        }
                    }
                    2 => {
                        ls.remove(i);
                        if ls.is_empty() {
                            break;
                        }
                    }
                    3 => {
                        let l = ls[i].clone();
                        ls.push(l);
                    }
                    _ => ls.push((0..(rnd() % 300)).map(|_| rnd() as u8).collect()),
                }
            }
            let r = reassemble(&join(&ls));
            for w in &r.whole {
                assert_eq!(w.id.as_bytes(), ID);
                assert_eq!(w.json.len(), json.len());
            }
        }
    }
}
