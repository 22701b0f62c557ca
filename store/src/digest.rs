//! The digest that identifies a package set across stores.

use sha2::{Digest, Sha256};

/// One member of a package set, by name (not by store id).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Member<'a> {
    /// Distribution name.
    pub name: &'a str,
    /// Version, if known.
    pub version: Option<&'a str>,
    /// Environment label, if known.
    pub env: Option<&'a str>,
    /// `import`, `extension` or `library`.
    pub via: &'a str,
    /// The distribution that imported it first; `None` = the program itself.
    pub by: Option<&'a str>,
}

/// Sorts members into the canonical order (by name, version, env, via, by;
/// byte order, `None` first) and drops exact repeats.
pub fn canonical_order(members: &mut Vec<Member<'_>>) {
    members.sort_unstable();
    members.dedup();
}

/// Lowercase hex SHA-256 of the canonical text of `members`, which must be
/// in canonical order: each member as the compact JSON array
/// `[name,version,env,via,by]` followed by a newline.
pub fn package_set_digest(members: &[Member<'_>]) -> String {
    // One buffer for the whole canonical text and one hash call: this runs
    // for every ingested record.
    let mut text = Vec::with_capacity(members.len() * 64);
    for m in members {
        serde_json::to_writer(&mut text, &(m.name, m.version, m.env, m.via, m.by))
            .expect("strings always serialise");
        text.push(b'\n');
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in Sha256::digest(&text) {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_digest() {
        let a = Member {
            name: "numpy",
            version: Some("2.1.3"),
            env: None,
            via: "import",
            by: None,
        };
        let b = Member {
            name: "numpy",
            version: None,
            env: Some("e"),
            via: "library",
            by: Some("scipy"),
        };
        let mut v = vec![a.clone(), b.clone(), a.clone()];
        canonical_order(&mut v);
        assert_eq!(v, vec![b.clone(), a.clone()]);
        // The empty set's digest is SHA-256 of nothing.
        assert_eq!(
            package_set_digest(&[]),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_ne!(package_set_digest(&v), package_set_digest(&v[..1]));
        // Stores compare digests made by different pyusage versions: the
        // value is pinned (SHA-256 of the canonical text, computed apart).
        assert_eq!(
            package_set_digest(&v),
            "33b5e89c0205ab7c575da12c28fbf20dd7ac412b1a97f6921d14c781449959cf"
        );
        // Fields cannot run into each other.
        let c = Member {
            name: "a\",\"b",
            ..a.clone()
        };
        let d = Member {
            name: "a",
            version: Some("b"),
            ..a
        };
        assert_ne!(package_set_digest(&[c]), package_set_digest(&[d]));
    }
}
