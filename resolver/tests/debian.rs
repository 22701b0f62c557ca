//! Debian's `python3-numpy` in `dist-packages`: no RECORD, files from dpkg.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use pyusage_resolver::PackageMap;

fn ensure_python3_numpy() -> bool {
    if Path::new("/usr/lib/python3/dist-packages/numpy/__init__.py").exists() {
        return true;
    }
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default();
    if String::from_utf8_lossy(&uid).trim() != "0" {
        pyusage_tests::skip::skipped("python3-numpy is not installed and the tests are not root (apt-get install -y python3-numpy)");
        return false;
    }
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-q", "python3-numpy"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    if !install() {
        let _ = Command::new("apt-get").args(["update", "-q"]).status();
        if !install() {
            pyusage_tests::skip::skipped("apt-get install python3-numpy failed (no network?)");
            return false;
        }
    }
    true
}

#[test]
fn debian_dist_packages() {
    if !Path::new("/usr/bin/python3").exists() || !Path::new("/var/lib/dpkg/info").is_dir() {
        pyusage_tests::skip!("not a Debian system with /usr/bin/python3");
    }
    if !ensure_python3_numpy() {
        return;
    }
    let report = build_with(&[], &[Path::new("/usr/bin/python3")]);
    let map = PackageMap::parse(&report.map).unwrap();
    map.verify_checksum().unwrap();
    let dp = "/usr/lib/python3/dist-packages";
    let numpy = (0..map.dist_count())
        .filter_map(|i| map.dist(i))
        .find(|d| d.name == b"numpy")
        .expect("numpy in the map");
    assert_eq!(
        numpy.installer, b"dpkg:python3-numpy",
        "the file list came from dpkg"
    );
    assert_eq!(numpy.env, b"/usr");
    let want = format!("numpy {} /usr", String::from_utf8_lossy(numpy.version));
    assert_eq!(resolve(&map, format!("{dp}/numpy/__init__.py")), want);
    assert_eq!(
        resolve(
            &map,
            format!("{dp}/numpy/core/__pycache__/fresh.cpython-311.pyc")
        ),
        want
    );
    // Every .py file dpkg lists for python3-numpy under dist-packages resolves.
    let list = std::fs::read_to_string("/var/lib/dpkg/info/python3-numpy.list").unwrap();
    let mut n = 0;
    for l in list
        .lines()
        .filter(|l| l.starts_with(dp) && l.ends_with(".py"))
    {
        assert_eq!(resolve(&map, l), want, "{l}");
        n += 1;
    }
    assert!(n > 100, "{n} files");
    // The system standard library.
    let info = pyusage_resolver::scan::query_interpreter(Path::new("/usr/bin/python3")).unwrap();
    assert_eq!(resolve(&map, format!("{}/os.py", info.stdlib[0])), "stdlib");
    assert_eq!(resolve(&map, format!("{dp}/hand_made.py")), "unmapped");
}
