//! Asking an interpreter where it keeps things: its prefix, its site
//! directories and its standard library.

use std::path::Path;
use std::process::Command;

/// What an interpreter reports about itself.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct InterpreterInfo {
    /// `sys.prefix` (the venv, for a venv).
    pub prefix: String,
    /// `sys.base_prefix`.
    pub base_prefix: String,
    /// `site.getsitepackages()` plus `sysconfig`'s purelib and platlib.
    pub sites: Vec<String>,
    /// `sysconfig`'s stdlib and platstdlib.
    pub stdlib: Vec<String>,
    /// The `lib-dynload` directories on `sys.path`.
    pub dynload: Vec<String>,
    /// `X.Y`.
    pub version: String,
}

const SCRIPT: &str = r#"
import json, os, site, sys, sysconfig
p = sysconfig.get_paths()
sites = []
try:
    sites = list(site.getsitepackages())
except Exception:
    pass
for k in ("purelib", "platlib"):
    if p.get(k) and p[k] not in sites:
        sites.append(p[k])
std = [x for x in (p.get("stdlib"), p.get("platstdlib")) if x]
dyn = [x for x in sys.path if x.endswith("lib-dynload")]
print(json.dumps({"prefix": sys.prefix, "base_prefix": getattr(sys, "base_prefix", sys.prefix),
    "sites": sites, "stdlib": std, "dynload": dyn,
    "version": "%d.%d" % sys.version_info[:2]}))
"#;

/// Runs `exe` (isolated: `-I`, no user site) and parses what it reports.
pub fn query(exe: &Path) -> Result<InterpreterInfo, String> {
    let out = Command::new(exe)
        .arg("-I")
        .arg("-c")
        .arg(SCRIPT)
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .output()
        .map_err(|e| format!("cannot run {} ({e})", exe.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            exe.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{} printed something unexpected ({e})", exe.display()))
}
