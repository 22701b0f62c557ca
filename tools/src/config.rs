//! The configuration as the tracer sees it, for the tools.
//!
//! The tools apply the file with the very parser the tracer uses
//! ([`pyusage_record::config`]), so they agree on every value; `config check`
//! additionally parses it as full TOML to point at mistakes.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use pyusage_record::config::{Config, SYSTEM_CONFIG_PATH};
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
    fn allowed_env(&self, var: &str) -> Option<PathBuf> {
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
    pub fn load(&self) -> Result<Effective> {
        let mut config = Config::default();
        let source = self.config_file();
        let mut store = None;
        if let Some(file) = &source {
            let text = std::fs::read(file)
                .with_context(|| format!("cannot read config {}", file.display()))?;
            // Shown as the file says, whoever will read it; the tracer ignores the
            // allow_* keys in a user's PYUSAGE_CONFIG file.
            config.apply(&text, true);
            store = store_of(&text);
            if config.errors > 0 {
                crate::msg::warning_at(
                    file.display(),
                    format_args!(
                        "line {} (and {} more) not understood; run `pyusage config check`",
                        config.first_error_line,
                        config.errors - 1
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
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Check(settings) => {
            let Some(file) = settings.config_file() else {
                println!("no configuration file; the tracer uses built-in defaults");
                return Ok(ExitCode::SUCCESS);
            };
            let problems = check(&file)?;
            for p in &problems {
                crate::msg::error_at(file.display(), p);
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
fn check_map_build(build: &toml::Table, problems: &mut Vec<String>) {
    for (key, value) in build {
        match key.as_str() {
            "roots" | "pythons" => {
                let strings = value.as_array().is_some_and(|a| a.iter().all(toml::Value::is_str));
                if !strings {
                    problems.push(format!("`map_build.{key}` must be an array of strings"));
                }
            }
            k if pyusage_record::config::KEYS.contains(&k) => problems.push(format!(
                "`{k}` is inside [map_build], where the tracer never reads it: move it above the table"
            )),
            k => problems.push(format!("unknown key `map_build.{k}` (known: roots, pythons)")),
        }
    }
}

/// Every problem found in a configuration file.
pub fn check(file: &Path) -> Result<Vec<String>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => return Ok(vec![format!("not valid TOML: {e}")]),
    };
    let mut problems = Vec::new();
    for (key, value) in &table {
        match (key.as_str(), value) {
            ("map_build", toml::Value::Table(build)) => check_map_build(build, &mut problems),
            (_, toml::Value::Table(_)) => problems.push(format!("unknown table `[{key}]`")),
            (key, _) if !pyusage_record::config::KEYS.contains(&key) => {
                problems.push(format!("unknown key `{key}`"))
            }
            ("store", toml::Value::String(url)) => {
                if let Err(e) = pyusage_store::StoreUrl::parse(url) {
                    problems.push(format!("`store`: {e:#}"));
                }
            }
            ("store", _) => problems.push(
                "`store` must be a string: a path, sqlite:PATH or postgresql://...".to_owned(),
            ),
            ("spool" | "runtime_dir" | "map", toml::Value::String(path))
                if !(path.starts_with('/') || key == "map" && path.is_empty()) =>
            {
                problems.push(format!(
                    "`{key}` must be an absolute path, not {path:?}: a relative one would be taken from each process's working directory"
                ))
            }
            _ => {}
        }
    }
    let mut parsed = Config::default();
    parsed.apply(text.as_bytes(), true);
    if parsed.errors > 0 {
        problems.push(format!(
            "{} line(s) the tracer cannot use (first: line {}): check types (strings quoted, paths absolute, sample a number from 0 to 1, record_bytes 4096-16777216)",
            parsed.errors, parsed.first_error_line
        ));
    }
    Ok(problems)
}
