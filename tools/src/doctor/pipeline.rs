//! Checks of the way out of the node and into the store: syslog, the
//! store, and whether a login shell preloads the tracer at all.

use super::{Check, Ctx};
use crate::sinks::Sinks;
use pyusage_store::{Store, StoreUrl};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A login shell that does not print within this long is reported, not waited for.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(15);

/// syslog: when it is a configured sink, its socket or server answers.
pub fn syslog(ctx: &Ctx) -> Check {
    const NAME: &str = "syslog";
    let Ok(e) = &ctx.effective else {
        return Check::fail(NAME, "unknown (configuration not loaded)");
    };
    let sinks = Sinks::of(e);
    if !sinks.syslog {
        return Check::ok(NAME, "not a configured sink (sinks = [\"spool\"])");
    }
    match sinks.target.probe() {
        Ok(how) => Check::ok(NAME, format!("{}: {how}", sinks.target)),
        Err(why) => {
            let fallback = if sinks.spool {
                "records still go to the spool"
            } else {
                "records stay on tmpfs for the sweep"
            };
            Check::fail(NAME, format!("{}: {why}; {fallback}", sinks.target))
        }
    }
}

/// The store answers: the configured one, or `--db`.
pub fn store(ctx: &Ctx) -> Check {
    const NAME: &str = "store";
    let url = match (&ctx.db, &ctx.effective) {
        (Some(db), _) => db.clone(),
        (None, Ok(e)) => e.store.clone(),
        (None, Err(_)) => return Check::fail(NAME, "unknown (configuration not loaded)"),
    };
    let url = match StoreUrl::parse(&url) {
        Ok(u) => u,
        Err(e) => return Check::fail(NAME, e.to_string()),
    };
    if let StoreUrl::Sqlite(path) = &url {
        if !path.exists() {
            return Check::warn(
                NAME,
                format!("{url}: does not exist yet (the first `pyusage ingest` creates it)"),
            );
        }
    }
    let version = Store::open_existing(&url).and_then(|mut s| {
        s.version()
            .map_err(|source| pyusage_store::StoreError::Schema {
                url: url.to_string(),
                source,
            })
    });
    match version {
        Ok(v) => Check::ok(NAME, format!("{url}: reachable, schema {}", v.unwrap_or(0))),
        Err(e) => Check::fail(NAME, crate::msg::Chain(&e).to_string()),
    }
}

/// What `LD_PRELOAD` a fresh login shell gets: is the module loaded for everyone?
pub fn login_shell(_: &Ctx) -> Check {
    const NAME: &str = "login";
    let mut cmd = Command::new("bash");
    cmd.args(["-l", "-c", "printf '%s' \"$LD_PRELOAD\""])
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for var in ["HOME", "USER", "LOGNAME", "PATH", "LANG"] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Check::warn(NAME, format!("cannot start a login shell (bash -l): {e}")),
    };
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if started.elapsed() < LOGIN_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Check::warn(
                    NAME,
                    format!("a login shell (bash -l) did not finish within {LOGIN_TIMEOUT:?}"),
                );
            }
        }
    };
    let mut out = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if !status.success() {
        return Check::warn(NAME, format!("a login shell (bash -l) failed: {status}"));
    }
    let libs: Vec<&str> = out
        .split([':', ' '])
        .filter(|s| s.contains("libpyusage"))
        .collect();
    match libs.first() {
        None => Check::warn(
            NAME,
            "a login shell (bash -l) has no libpyusage.so in LD_PRELOAD: the module is not \
             loaded for everyone (README, Deployment step 3)",
        ),
        Some(lib) if !lib.contains('$') && !std::path::Path::new(lib).exists() => Check::fail(
            NAME,
            format!("a login shell preloads {lib}, which does not exist: every program prints a loader warning"),
        ),
        Some(lib) => Check::ok(NAME, format!("a login shell (bash -l) preloads {lib}")),
    }
}
