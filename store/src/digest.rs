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
    let mut h = Sha256::new();
    for m in members {
        let line = serde_json::to_string(&(m.name, m.version, m.env, m.via, m.by))
            .expect("strings always serialise");
        h.update(line.as_bytes());
        h.update(b"\n");
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
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
