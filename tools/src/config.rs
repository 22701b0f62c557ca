//! The configuration as the tracer sees it, for the tools.
//!
//! The tools apply the file with the very parser the tracer uses
//! ([`pyusage_record::config`]), so they agree on every value; `config check`
//! reports that parser's reason for every line it cannot use
//! ([`LineError`]) and additionally parses the file as full TOML to point at
//! keys and tables nobody reads.

use anyhow::Result;
use clap::{Args, Subcommand};
use pyusage_record::config::{Config, LineError, SYSTEM_CONFIG_PATH};
use pyusage_store::UrlError;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Options shared by commands that need the tracer's settings.
///
/// Each option may also come from its `$PYUSAGE_*` variable, exactly as the
/// tracer takes it: only while the system file allows user settings
/// (`allow_user_config`). When it does not, the tools say that they ignore
/// the variable instead of silently using a value the tracer ignores.
#[derive(Args, Clone, Debug, Default)]
pub struct Settings {
    /// Configuration file (default: $PYUSAGE_CONFIG, else the system file).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Spool directory for shipped records (overrides `spool`; also $PYUSAGE_SPOOL).
    #[arg(long, value_name = "DIR")]
    pub spool: Option<PathBuf>,
    /// Node-local directory of raw records (overrides `runtime_dir`; also $PYUSAGE_RUNTIME_DIR).
    #[arg(long, value_name = "DIR")]
    pub runtime_dir: Option<PathBuf>,
    /// Package map (overrides `map`; also $PYUSAGE_MAP).
    #[arg(long, value_name = "FILE")]
    pub map: Option<PathBuf>,
    /// The system file whose `allow_user_config` governs the variables
    /// (default: the compiled-in path; for tests).
    #[arg(long, value_name = "FILE", hide = true)]
    pub system_config: Option<PathBuf>,
}

/// The effective configuration.
pub struct Effective {
    /// Settings after file and overrides.
    pub config: Config,
    /// The file they came from, if any.
    pub source: Option<PathBuf>,
    /// Spool directory.
    pub spool: PathBuf,
    /// Runtime directory.
    pub runtime_dir: PathBuf,
    /// Package map.
    pub map: PathBuf,
    /// Where `pyusage ingest` stores records (`store`): a path or a URL.
    pub store: String,
}

/// A configuration file that cannot be used at all.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// It cannot be read (missing, a directory, not UTF-8 for `check`, ...).
    #[error("{}: cannot read", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// One mistake `pyusage config check` finds in a file that can be read.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// Not TOML at all (the tools' parser refuses it).
    #[error("not valid TOML")]
    Toml(#[source] toml::de::Error),
    /// A line the tracer cannot use, and the tracer's parser's reason.
    #[error("line {line}")]
    Line {
        /// 1-based line number.
        line: u32,
        /// Why the tracer skips it.
        #[source]
        reason: LineError,
    },
    /// A top-level key nobody reads.
    #[error("unknown key `{0}`")]
    UnknownKey(String),
    /// A table nobody reads.
    #[error("unknown table `[{0}]`")]
    UnknownTable(String),
    /// A tracer key written below `[map_build]`, where the tracer never sees it.
    #[error(
        "`{0}` is inside [map_build], where the tracer never reads it: move it above the table"
    )]
    TracerKeyInMapBuild(String),
    /// A key in `[map_build]` that `map build` does not know.
    #[error("unknown key `map_build.{0}` (known: roots, pythons)")]
    UnknownMapBuildKey(String),
    /// `roots` or `pythons` that is not an array of strings.
    #[error("`map_build.{0}` must be an array of strings")]
    MapBuildNotStrings(String),
    /// A `store` string that is not a store location.
    #[error("`store`")]
    Store(#[source] UrlError),
}

/// The store when the configuration names none.
pub const DEFAULT_STORE: &str = "/var/lib/pyusage/usage.db";

/// The `store` key of a configuration file. The tracer's parser only checks
/// that it is a string, so it is read here with the full TOML parser.
fn store_of(text: &[u8]) -> Option<String> {
    let table: toml::Table = std::str::from_utf8(text).ok()?.parse().ok()?;
    table.get("store")?.as_str().map(str::to_owned)
}

fn path_of(b: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

impl Settings {
    fn system_path(&self) -> PathBuf {
        self.system_config
            .clone()
            .unwrap_or_else(|| PathBuf::from(SYSTEM_CONFIG_PATH))
    }

    /// Whether the system file lets users override settings, as the tracer
    /// decides it (a missing or unreadable file allows them).
    fn user_settings_allowed(&self) -> bool {
        let mut system = Config::default();
        if let Ok(text) = std::fs::read(self.system_path()) {
            system.apply(&text, true);
        }
        system.allow_user_config
    }

    /// `$var` when set, non-empty and allowed; otherwise `None`, with a
    /// warning when it is set but the system file forbids it.
    pub(crate) fn allowed_env(&self, var: &str) -> Option<PathBuf> {
        let value = std::env::var_os(var).filter(|v| !v.is_empty())?;
        if !value.as_encoded_bytes().starts_with(b"/") {
            crate::msg::warning(format_args!(
                "${var} is not an absolute path ({}); ignoring it, as the tracer does",
                value.to_string_lossy()
            ));
            return None;
        }
        if self.user_settings_allowed() {
            Some(PathBuf::from(value))
        } else {
            crate::msg::warning(format_args!(
                "${var} is set, but {} forbids user settings (allow_user_config = false); \
                 ignoring it, as the tracer does",
                self.system_path().display()
            ));
            None
        }
    }

    /// The configuration file in force, if one exists: `--config`, else
    /// `$PYUSAGE_CONFIG`, else the system file.
    pub fn config_file(&self) -> Option<PathBuf> {
        self.config
            .clone()
            .filter(|p| !p.as_os_str().is_empty())
            .or_else(|| self.allowed_env("PYUSAGE_CONFIG"))
            .or_else(|| {
                let system = self.system_path();
                system.exists().then_some(system)
            })
    }

    /// Loads the file (the tracer's parser) and applies command-line overrides.
    pub fn load(&self) -> Result<Effective, ConfigError> {
        let mut config = Config::default();
        let source = self.config_file();
        let mut store = None;
        if let Some(file) = &source {
            let text = std::fs::read(file).map_err(|source| ConfigError::Read {
                path: file.clone(),
                source,
            })?;
            // Shown as the file says, whoever will read it; the tracer ignores the
            // allow_* keys in a user's PYUSAGE_CONFIG file.
            let mut first = None;
            config.apply_reporting(&text, true, |line, why| {
                first.get_or_insert((line, why));
            });
            store = store_of(&text);
            if let Some((line, why)) = first {
                crate::msg::warning_at(
                    file.display(),
                    format_args!(
                        "line {line}: {why}; ignored ({} line(s) in all; run `pyusage config check`)",
                        config.errors
                    ),
                );
                // The tracer switches itself off on a broken system file.
                if file == Path::new(SYSTEM_CONFIG_PATH) {
                    config.enabled = false;
                    eprintln!(
                        "pyusage: warning: {}: tracing is off on this system until it is fixed",
                        file.display()
                    );
                }
            }
        }
        Ok(Effective {
            spool: self
                .spool
                .clone()
                .or_else(|| self.allowed_env("PYUSAGE_SPOOL"))
                .unwrap_or_else(|| path_of(config.spool.as_bytes())),
            runtime_dir: self
                .runtime_dir
                .clone()
                .or_else(|| self.allowed_env("PYUSAGE_RUNTIME_DIR"))
                .unwrap_or_else(|| path_of(config.runtime_dir.as_bytes())),
            map: self
                .map
                .clone()
                .or_else(|| self.allowed_env("PYUSAGE_MAP"))
                .unwrap_or_else(|| path_of(config.map.as_bytes())),
            store: store.unwrap_or_else(|| DEFAULT_STORE.to_owned()),
            config,
            source,
        })
    }
}

#[derive(Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the settings the tracer would use.
    Show(Settings),
    /// Check the file: TOML syntax, known keys, value types and ranges.
    Check(Settings),
}

pub fn run(args: ConfigArgs) -> Result<ExitCode> {
    match args.command {
        ConfigCommand::Show(settings) => {
            let e = settings.load()?;
            let c = &e.config;
            match &e.source {
                Some(f) => println!("# from {}", f.display()),
                None => println!("# no configuration file: built-in defaults"),
            }
            println!("enabled = {}", c.enabled);
            println!("spool = {:?}", e.spool.display().to_string());
            println!("runtime_dir = {:?}", e.runtime_dir.display().to_string());
            println!("map = {:?}", e.map.display().to_string());
            println!("store = {:?}", e.store);
            println!("sample = {}", f64::from(c.sample_ppm) / 1e6);
            println!("record_bytes = {}", c.record_bytes);
            println!("all_ranks = {}", c.all_ranks);
            println!("allow_opt_out = {}", c.allow_opt_out);
            println!("allow_user_config = {}", c.allow_user_config);
            let sinks: Vec<&str> = [(c.sink_spool, "\"spool\""), (c.sink_syslog, "\"syslog\"")]
                .into_iter()
                .filter_map(|(on, name)| on.then_some(name))
                .collect();
            println!("sinks = [{}]", sinks.join(", "));
            println!(
                "syslog = {:?}",
                String::from_utf8_lossy(c.syslog.as_bytes())
            );
            println!("syslog_message_bytes = {}", c.syslog_message_bytes);
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Check(settings) => {
            let Some(file) = settings.config_file() else {
                println!("no configuration file; the tracer uses built-in defaults");
                return Ok(ExitCode::SUCCESS);
            };
            let problems = check(&file)?;
            for p in &problems {
                crate::msg::error_at(file.display(), crate::msg::Chain(p));
            }
            if problems.is_empty() {
                println!("{}: ok", file.display());
                Ok(ExitCode::SUCCESS)
            } else {
                Ok(ExitCode::from(1))
            }
        }
    }
}

/// `[map_build]`: `roots` and `pythons`, arrays of strings. A tracer key
/// written below the table header lands here too, and the tracer never sees it.
fn check_map_build(build: &toml::Table, problems: &mut Vec<Problem>) {
    for (key, value) in build {
        match key.as_str() {
            "roots" | "pythons" => {
                let strings = value
                    .as_array()
                    .is_some_and(|a| a.iter().all(toml::Value::is_str));
                if !strings {
                    problems.push(Problem::MapBuildNotStrings(key.clone()));
                }
            }
            k if pyusage_record::config::KEYS.contains(&k) => {
                problems.push(Problem::TracerKeyInMapBuild(key.clone()))
            }
            _ => problems.push(Problem::UnknownMapBuildKey(key.clone())),
        }
    }
}

/// Every problem found in a configuration file: the tracer's parser's reason
/// for each line it cannot use, then what only a full TOML parser sees (keys
/// and tables nobody reads, a `store` that is no store location).
pub fn check(file: &Path) -> Result<Vec<Problem>, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
        path: file.to_path_buf(),
        source,
    })?;
    let table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => return Ok(vec![Problem::Toml(e)]),
    };
    let mut problems = Vec::new();
    Config::default().apply_reporting(text.as_bytes(), true, |line, reason| {
        problems.push(Problem::Line { line, reason })
    });
    for (key, value) in &table {
        match (key.as_str(), value) {
            ("map_build", toml::Value::Table(build)) => check_map_build(build, &mut problems),
            (_, toml::Value::Table(_)) => problems.push(Problem::UnknownTable(key.clone())),
            (key, _) if !pyusage_record::config::KEYS.contains(&key) => {
                problems.push(Problem::UnknownKey(key.to_owned()))
            }
            // Any string passes the tracer's parser; only the tools know URLs.
            ("store", toml::Value::String(url)) => {
                if let Err(e) = pyusage_store::StoreUrl::parse(url) {
                    problems.push(Problem::Store(e));
                }
            }
            _ => {}
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::Chain;

    #[test]
    fn check_gives_the_tracer_s_reason_per_line_and_the_file_s_own_mistakes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(
            &file,
            "spool = \"spool\"\nsample = 2\nstore = \"mysql://db/x\"\nspoool = 1\n",
        )
        .unwrap();
        let problems = check(&file).unwrap();
        let said: Vec<String> = problems.iter().map(|p| Chain(p).to_string()).collect();
        assert!(
            matches!(
                problems[..],
                [
                    Problem::Line {
                        line: 1,
                        reason: LineError::RelativePath("spool")
                    },
                    Problem::Line {
                        line: 2,
                        reason: LineError::BadValue("sample")
                    },
                    // Keys in the TOML table's (sorted) order.
                    Problem::UnknownKey(_),
                    Problem::Store(UrlError::UnknownScheme { .. }),
                ]
            ),
            "{said:?}"
        );
        assert!(
            said[0].starts_with("line 1: `spool` must be an absolute path"),
            "{said:?}"
        );
        assert!(said[1].contains("from 0 to 1"), "{said:?}");
        assert_eq!(said[2], "unknown key `spoool`");
        assert!(
            said[3].starts_with("`store`: mysql://db/x: unknown store kind `mysql`"),
            "{said:?}"
        );
    }

    #[test]
    fn an_unreadable_file_names_the_file_and_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("absent.toml");
        let e = check(&file).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Read { path, source } if path == &file
                && source.kind() == std::io::ErrorKind::NotFound),
            "{e:?}"
        );
        let said = Chain(&e).to_string();
        assert!(
            said.starts_with(&format!("{}: cannot read: ", file.display()))
                && said.contains("No such file"),
            "{said}"
        );
    }
}
