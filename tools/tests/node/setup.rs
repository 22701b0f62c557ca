//! A complete, healthy installation in temp directories: config, a package
//! map built from a small site-packages, a runtime directory on tmpfs (mode
//! 1777), a fan-out spool (1733) and an SQLite store.

use pyusage_tests::cli::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub struct Setup {
    pub tmp: tempfile::TempDir,
    pub config: PathBuf,
    pub spool: PathBuf,
    pub runtime: PathBuf,
    pub map: PathBuf,
    pub site: PathBuf,
    pub db: PathBuf,
    extra: String,
}

pub fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

impl Setup {
    /// Everything in place; the runtime directory on `/dev/shm`.
    pub fn new() -> Setup {
        let tmp = tempfile::Builder::new()
            .prefix("pyusage-node-test-")
            .tempdir_in("/dev/shm")
            .expect("tempdir in /dev/shm");
        let root = tmp.path().to_path_buf();
        let site = root.join("site-packages");
        fs::create_dir_all(site.join("alpha")).unwrap();
        fs::write(site.join("alpha/__init__.py"), "").unwrap();
        let di = site.join("alpha-1.0.dist-info");
        fs::create_dir(&di).unwrap();
        fs::write(
            di.join("METADATA"),
            "Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\n",
        )
        .unwrap();
        fs::write(
            di.join("RECORD"),
            "alpha/__init__.py,,\nalpha-1.0.dist-info/METADATA,,\nalpha-1.0.dist-info/RECORD,,\n",
        )
        .unwrap();
        let map = root.join("map.bin");
        run(pyusage(["map", "build", "--quiet", "--output"])
            .arg(&map)
            .arg("--root")
            .arg(format!("{}=site", site.display())))
        .assert_ok();
        let spool = root.join("spool");
        run(pyusage(["spool", "init"]).arg(&spool)).assert_ok();
        let runtime = root.join("runtime");
        fs::create_dir(&runtime).unwrap();
        chmod(&runtime, 0o1777);
        let db = root.join("usage.db");
        let empty = root.join("empty-spool");
        fs::create_dir(&empty).unwrap();
        run(pyusage(["ingest", "--db"]).arg(&db).arg(&empty)).assert_ok();
        let s = Setup {
            config: root.join("config.toml"),
            tmp,
            spool,
            runtime,
            map,
            site,
            db,
            extra: String::new(),
        };
        s.write_config();
        s
    }

    /// Adds lines to the config file.
    pub fn with_config(&mut self, lines: &str) {
        self.extra.push_str(lines);
        self.extra.push('\n');
        self.write_config();
    }

    pub fn write_config(&self) {
        let text = format!(
            "spool = {:?}\nruntime_dir = {:?}\nmap = {:?}\nstore = {:?}\n{}",
            self.spool, self.runtime, self.map, self.db, self.extra
        );
        fs::write(&self.config, text).unwrap();
    }

    /// `pyusage CMD --config FILE ARGS...`.
    pub fn cmd(&self, cmd: &[&str], args: &[&str]) -> std::process::Command {
        let mut c = pyusage(cmd);
        c.arg("--config").arg(&self.config).args(args);
        c
    }
}
