//! The interpreters on this machine and what each says about itself.

use crate::record::Expect;
use crate::run::{Outcome, Prog};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Every pyenv version the tests expect.
pub const PYENV_VERSIONS: &[&str] = &[
    "2.7.18", "3.6.15", "3.7.16", "3.8.18", "3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0",
];

/// pyenv versions with PEP 578 audit hooks (3.8+).
pub const MODERN: &[&str] = &["3.8.18", "3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0"];

/// pyenv versions without audit hooks.
pub const OLD: &[&str] = &["2.7.18", "3.6.15", "3.7.16"];

/// Debian's python3.11, which links libpython statically.
pub const DEBIAN_STATIC: &str = "/usr/bin/python3.11";

/// An interpreter and its self-description.
#[derive(Clone, Debug)]
pub struct Python {
    /// The path used to start it.
    pub path: PathBuf,
    /// `/proc/self/exe` as the tracer sees it (symlinks resolved).
    pub exe: PathBuf,
    /// `platform.python_version()`.
    pub version: String,
    /// `sys.prefix`.
    pub prefix: String,
    /// `sys.base_prefix` (`sys.prefix` on 2.7).
    pub base_prefix: String,
    /// (major, minor).
    pub major_minor: (u32, u32),
}

impl Python {
    /// Probe the interpreter at `path` (cached per path). `None` if it is
    /// missing or does not run.
    pub fn at(path: impl AsRef<Path>) -> Option<Python> {
        static CACHE: Mutex<Option<HashMap<PathBuf, Option<Python>>>> = Mutex::new(None);
        let path = path.as_ref().to_path_buf();
        if let Some(hit) = CACHE
            .lock()
            .unwrap()
            .get_or_insert_with(HashMap::new)
            .get(&path)
        {
            return hit.clone();
        }
        let probed = Self::probe(&path);
        CACHE
            .lock()
            .unwrap()
            .get_or_insert_with(HashMap::new)
            .insert(path, probed.clone());
        probed
    }

    fn probe(path: &Path) -> Option<Python> {
        if !path.is_file() {
            return None;
        }
        let out = Prog::new(path)
            .args([
                "-c",
                "import sys, platform\n\
                 print(platform.python_version())\n\
                 print(sys.prefix)\n\
                 print(getattr(sys, 'base_prefix', sys.prefix))\n",
            ])
            .run_plain();
        if out.status.code() != Some(0) {
            eprintln!("{} does not run: {out:?}", path.display());
            return None;
        }
        let text = out.stdout_str();
        let mut lines = text.lines();
        let version = lines.next()?.to_owned();
        let prefix = lines.next()?.to_owned();
        let base_prefix = lines.next()?.to_owned();
        let mut parts = version.split('.').map(|x| x.parse::<u32>().unwrap_or(0));
        let major_minor = (parts.next()?, parts.next()?);
        Some(Python {
            exe: std::fs::canonicalize(path).ok()?,
            path: path.to_path_buf(),
            version,
            prefix,
            base_prefix,
            major_minor,
        })
    }

    /// The pyenv interpreter of `version` (e.g. "3.11.7").
    pub fn pyenv(version: &str) -> Option<Python> {
        let mm: Vec<&str> = version.split('.').take(2).collect();
        let p = format!("/root/.pyenv/versions/{version}/bin/python{}", mm.join("."));
        Self::at(p)
    }

    /// Debian's statically linked `/usr/bin/python3.11`.
    pub fn debian() -> Option<Python> {
        Self::at(DEBIAN_STATIC)
    }

    /// Has PEP 578 audit hooks.
    pub fn modern(&self) -> bool {
        self.major_minor >= (3, 8)
    }

    /// A program running this interpreter.
    pub fn prog(&self) -> Prog {
        Prog::new(&self.path)
    }

    /// The stdlib directory (`<base_prefix>/lib/pythonX.Y`).
    pub fn stdlib(&self) -> PathBuf {
        PathBuf::from(&self.base_prefix).join(format!(
            "lib/python{}.{}",
            self.major_minor.0, self.major_minor.1
        ))
    }

    /// The common expectations for a record of the process in `out`, started
    /// directly by this test process, between `not_before` and now.
    pub fn expect(&self, out: &Outcome, not_before: &str) -> Expect {
        Expect {
            pid: out.pid,
            ppid: Some(std::process::id()),
            exe: self.exe.clone(),
            version: self.version.clone(),
            prefix: Some(self.prefix.clone()),
            user: Some(crate::run::TEST_USER.to_owned()),
            prefix_required: self.modern(),
            script: None,
            not_before: not_before.to_owned(),
            not_after: crate::rfc3339_now(),
            no_job: true,
            forked_from: Some(None),
        }
    }
}

/// Every interpreter the tests know about that is present: pyenv versions
/// then Debian's; absent ones are reported on stderr.
pub fn all() -> Vec<Python> {
    let mut v = Vec::new();
    for ver in PYENV_VERSIONS {
        match Python::pyenv(ver) {
            Some(p) => v.push(p),
            None => crate::skip::skipped(&format!("pyenv python {ver} is not installed")),
        }
    }
    match Python::debian() {
        Some(p) => v.push(p),
        None => crate::skip::skipped(&format!("{DEBIAN_STATIC} is not installed")),
    }
    v
}

/// The modern (3.8+) interpreters present, Debian's included.
pub fn modern() -> Vec<Python> {
    all().into_iter().filter(|p| p.modern()).collect()
}
