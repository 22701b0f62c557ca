//! Maps of installations laid out by the tests: a conda environment,
//! egg-info and eggs, `.pth` directories, broken metadata, conflicts.

mod common;

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use common::*;
use pyusage_resolver::diff::{diff, Change};
use pyusage_resolver::PackageMap;

fn conda_record(prefix: &Path, name: &str, version: &str, build: &str, files: &[&str]) {
    let json = serde_json::json!({
        "name": name, "version": version, "build": build,
        "channel": "https://example.org/conda-forge/linux-64",
        "files": files,
    });
    write(
        &prefix.join(format!("conda-meta/{name}-{version}-{build}.json")),
        &json.to_string(),
    );
    for f in files {
        write(&prefix.join(f), "x");
    }
}

#[test]
fn conda_environment() {
    let t = tempfile::tempdir().unwrap();
    let env = t.path().join("envs/desi");
    conda_record(
        &env,
        "python",
        "3.11.8",
        "h955ad1f_0",
        &[
            "bin/python3.11",
            "lib/libpython3.11.so.1.0",
            "lib/python3.11/os.py",
            "lib/python3.11/json/__init__.py",
            "lib/python3.11/lib-dynload/_json.cpython-311-x86_64-linux-gnu.so",
            "lib/python3.11/site-packages/README.txt",
        ],
    );
    conda_record(
        &env,
        "numpy",
        "1.26.4",
        "py311h64a7726_0",
        &[
            "lib/python3.11/site-packages/numpy/__init__.py",
            "lib/python3.11/site-packages/numpy/core/multiarray.py",
            "lib/python3.11/site-packages/numpy-1.26.4.dist-info/METADATA",
            "lib/python3.11/site-packages/numpy-1.26.4.dist-info/RECORD",
            "bin/f2py",
        ],
    );
    write(
        &env.join("lib/python3.11/site-packages/numpy-1.26.4.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: numpy\nVersion: 1.26.4\n",
    );
    conda_record(
        &env,
        "pyyaml",
        "6.0.1",
        "py311h_0",
        &[
            "lib/python3.11/site-packages/yaml/__init__.py",
            "lib/python3.11/site-packages/PyYAML-6.0.1.dist-info/METADATA",
        ],
    );
    write(
        &env.join("lib/python3.11/site-packages/PyYAML-6.0.1.dist-info/METADATA"),
        "Name: PyYAML\nVersion: 6.0.1\n",
    );
    conda_record(
        &env,
        "libopenblas",
        "0.3.26",
        "pthreads_h413a1c8_0",
        &["lib/libopenblas.so.0"],
    );
    // A pip install on top of the conda env.
    let sp = env.join("lib/python3.11/site-packages");
    write(
        &sp.join("six-1.16.0.dist-info/METADATA"),
        "Name: six\nVersion: 1.16.0\n",
    );
    write(&sp.join("six-1.16.0.dist-info/INSTALLER"), "pip\n");
    write(
        &sp.join("six-1.16.0.dist-info/RECORD"),
        "six.py,sha256=x,1\nsix-1.16.0.dist-info/METADATA,,\nsix-1.16.0.dist-info/RECORD,,\n",
    );
    write(&sp.join("six.py"), "");

    let report = build_with(&[(&env, Some("desi"))], &[]);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let map = PackageMap::parse(&report.map).unwrap();
    assert_eq!(
        map.dist_count(),
        5,
        "python, numpy, PyYAML, libopenblas, six"
    );
    let e = env.to_str().unwrap();
    assert_eq!(
        resolve(
            &map,
            format!("{e}/lib/python3.11/site-packages/numpy/core/multiarray.py")
        ),
        "numpy 1.26.4 desi"
    );
    assert_eq!(
        resolve(
            &map,
            format!("{e}/lib/python3.11/site-packages/numpy/linalg/__pycache__/x.pyc")
        ),
        "numpy 1.26.4 desi"
    );
    assert_eq!(
        resolve(
            &map,
            format!("{e}/lib/python3.11/site-packages/yaml/__init__.py")
        ),
        "PyYAML 6.0.1 desi"
    );
    assert_eq!(
        resolve(&map, format!("{e}/lib/libopenblas.so.0")),
        "libopenblas 0.3.26 desi"
    );
    assert_eq!(resolve(&map, format!("{e}/bin/f2py")), "numpy 1.26.4 desi");
    assert_eq!(
        resolve(&map, format!("{e}/lib/python3.11/site-packages/six.py")),
        "six 1.16.0 desi"
    );
    assert_eq!(resolve(&map, format!("{e}/lib/python3.11/os.py")), "stdlib");
    assert_eq!(
        resolve(
            &map,
            format!("{e}/lib/python3.11/lib-dynload/_json.cpython-311-x86_64-linux-gnu.so")
        ),
        "stdlib"
    );
    assert_eq!(
        resolve(
            &map,
            format!("{e}/lib/python3.11/site-packages/handmade.py")
        ),
        "unmapped"
    );
    assert_eq!(
        resolve(&map, format!("{e}/lib/libpython3.11.so.1.0")),
        "python 3.11.8 desi"
    );
    let numpy = (0..map.dist_count())
        .filter_map(|i| map.dist(i))
        .find(|d| d.name == b"numpy")
        .unwrap();
    assert_eq!(numpy.installer, b"conda:conda-forge:py311h64a7726_0");
    let six = (0..map.dist_count())
        .filter_map(|i| map.dist(i))
        .find(|d| d.name == b"six")
        .unwrap();
    assert_eq!(six.installer, b"pip");

    // Without a label the environment is the prefix.
    let report = build_with(&[(&env, None)], &[]);
    let map = PackageMap::parse(&report.map).unwrap();
    assert_eq!(
        resolve(&map, format!("{e}/lib/libopenblas.so.0")),
        format!("libopenblas 0.3.26 {e}")
    );
}

/// Writes a zip egg holding `EGG-INFO/PKG-INFO` and `zipped/__init__.py`.
fn zip_egg(path: &std::path::Path, pkg_info: &str) {
    use std::io::Write;
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    z.start_file("EGG-INFO/PKG-INFO", opts).unwrap();
    z.write_all(pkg_info.as_bytes()).unwrap();
    z.start_file("zipped/__init__.py", opts).unwrap();
    z.finish().unwrap();
}

/// A file named like a zip egg that is not a zip: a warning naming it, and
/// the name and version of its file name.
#[test]
fn broken_zip_egg_warns_and_keeps_its_file_name() {
    let t = tempfile::tempdir().unwrap();
    let sp = t.path().join("site-packages");
    write(&sp.join("zipped-0.9-py3.11.egg"), "PK");
    let report = build_with(&[(&sp, Some("lab"))], &[]);
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    let w = format!("{:?}", report.warnings[0]);
    assert!(
        w.contains("zipped-0.9-py3.11.egg") && w.contains("not a zip"),
        "{w}"
    );
    let map = PackageMap::parse(&report.map).unwrap();
    let s = sp.to_str().unwrap();
    assert_eq!(
        resolve(&map, format!("{s}/zipped-0.9-py3.11.egg/zipped/x.py")),
        "zipped 0.9 lab"
    );
}

#[test]
fn eggs_egg_info_and_pth() {
    let t = tempfile::tempdir().unwrap();
    let sp = t.path().join("prefix/lib/python3.11/site-packages");
    // egg-info directory with installed-files.txt.
    write(
        &sp.join("legacy-2.0.egg-info/PKG-INFO"),
        "Metadata-Version: 1.0\nName: Legacy\nVersion: 2.0\n",
    );
    write(
        &sp.join("legacy-2.0.egg-info/installed-files.txt"),
        "../legacy/__init__.py\n../legacy/core.py\n./\nPKG-INFO\n",
    );
    write(&sp.join("legacy/__init__.py"), "");
    write(&sp.join("legacy/core.py"), "");
    // egg-info directory with only top_level.txt; single-file and extension modules.
    write(
        &sp.join("toponly-0.1.egg-info/PKG-INFO"),
        "Name: toponly\nVersion: 0.1\n",
    );
    write(
        &sp.join("toponly-0.1.egg-info/top_level.txt"),
        "toponly\n_toponly_ext\n",
    );
    write(&sp.join("toponly.py"), "");
    write(&sp.join("_toponly_ext.cpython-311-x86_64-linux-gnu.so"), "");
    // egg-info as a single file (distutils).
    write(
        &sp.join("single_mod-1.5.egg-info"),
        "Metadata-Version: 1.1\nName: single-mod\nVersion: 1.5\n",
    );
    write(&sp.join("single_mod.py"), "");
    // An egg directory and a zip egg.
    write(
        &sp.join("eggdir-3.1-py3.11.egg/EGG-INFO/PKG-INFO"),
        "Name: EggDir\nVersion: 3.1\n",
    );
    write(&sp.join("eggdir-3.1-py3.11.egg/eggdir/__init__.py"), "");
    // A zip egg whose PKG-INFO names it differently from its file name.
    zip_egg(
        &sp.join("zipped-0.9-py3.11.egg"),
        "Metadata-Version: 1.1\nName: Zipped-Real\nVersion: 0.9.1\n",
    );
    // A .pth naming a directory that holds a develop install.
    let dev = t.path().join("src/devproj");
    write(
        &dev.join("devproj.egg-info/PKG-INFO"),
        "Name: devproj\nVersion: 0.0.1\n",
    );
    write(&dev.join("devproj.egg-info/top_level.txt"), "devproj\n");
    write(&dev.join("devproj/__init__.py"), "");
    write(
        &sp.join("easy-install.pth"),
        &format!("# comment\nimport sys\n{}\n", dev.display()),
    );

    let report = build_with(&[(&sp, Some("lab"))], &[]);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let map = PackageMap::parse(&report.map).unwrap();
    let s = sp.to_str().unwrap();
    assert_eq!(
        resolve(&map, format!("{s}/legacy/core.py")),
        "Legacy 2.0 lab"
    );
    assert_eq!(resolve(&map, format!("{s}/toponly.py")), "toponly 0.1 lab");
    assert_eq!(
        resolve(
            &map,
            format!("{s}/_toponly_ext.cpython-311-x86_64-linux-gnu.so")
        ),
        "toponly 0.1 lab"
    );
    assert_eq!(
        resolve(&map, format!("{s}/single_mod.py")),
        "single-mod 1.5 lab"
    );
    assert_eq!(
        resolve(
            &map,
            format!("{s}/eggdir-3.1-py3.11.egg/eggdir/__init__.py")
        ),
        "EggDir 3.1 lab"
    );
    assert_eq!(
        resolve(&map, format!("{s}/zipped-0.9-py3.11.egg")),
        "Zipped-Real 0.9.1 lab"
    );
    assert_eq!(
        resolve(
            &map,
            format!("{s}/zipped-0.9-py3.11.egg/zipped/__init__.py")
        ),
        "Zipped-Real 0.9.1 lab"
    );
    assert_eq!(
        resolve(&map, format!("{}/devproj/__init__.py", dev.display())),
        "devproj 0.0.1 lab"
    );
    assert_eq!(resolve(&map, format!("{s}/other.py")), "unmapped");
}

#[test]
fn bad_input_warns_and_carries_on() {
    let t = tempfile::tempdir().unwrap();
    let sp = t.path().join("site-packages");
    // Good distribution.
    write(
        &sp.join("good-1.0.dist-info/METADATA"),
        "Name: good\nVersion: 1.0\n",
    );
    write(
        &sp.join("good-1.0.dist-info/RECORD"),
        "good/__init__.py,,\ngood-1.0.dist-info/direct_url.json,,\n",
    );
    // Malformed METADATA (binary garbage, no headers) and RECORD.
    std::fs::create_dir_all(sp.join("broken-2.0.dist-info")).unwrap();
    std::fs::write(
        sp.join("broken-2.0.dist-info/METADATA"),
        [0xff, 0xfe, 0, 1, b'\n', b'\n'],
    )
    .unwrap();
    write(
        &sp.join("broken-2.0.dist-info/RECORD"),
        "broken/a.py,,\n\"unterminated,,\n,,\n",
    );
    // Missing METADATA.
    write(&sp.join("nometa-3.0.dist-info/RECORD"), "nometa.py,,\n");
    // Unreadable RECORD (a directory).
    std::fs::create_dir_all(sp.join("weird-1.0.dist-info/RECORD")).unwrap();
    write(
        &sp.join("weird-1.0.dist-info/METADATA"),
        "Name: weird\nVersion: 1.0\n",
    );
    // Malformed direct_url.json.
    write(&sp.join("good-1.0.dist-info/direct_url.json"), "{not json");
    // Non-UTF-8 names.
    let odd = std::ffi::OsStr::from_bytes(b"caf\xe9-1.0.dist-info");
    std::fs::create_dir_all(sp.join(odd)).unwrap();
    std::fs::write(
        sp.join(odd).join("METADATA"),
        b"Name: caf\xe9\nVersion: 1.0\n",
    )
    .unwrap();
    std::fs::write(sp.join(odd).join("RECORD"), b"caf\xe9/__init__.py,,\n").unwrap();
    // A .pth pointing into a symlink loop, and a malformed conda root.
    std::os::unix::fs::symlink(t.path().join("loop_b"), t.path().join("loop_a")).unwrap();
    std::os::unix::fs::symlink(t.path().join("loop_a"), t.path().join("loop_b")).unwrap();
    write(
        &sp.join("loop.pth"),
        &format!("{}\n", t.path().join("loop_a").display()),
    );
    let conda = t.path().join("conda");
    write(&conda.join("conda-meta/bad-1-0.json"), "{\"name\": 5");

    let report = build_with(
        &[
            (&sp, None),
            (&t.path().join("loop_a"), None),
            (&conda, None),
            (&t.path().join("missing"), None),
        ],
        &[],
    );
    let warned = |needle: &str| {
        report
            .warnings
            .iter()
            .any(|w| w.to_string().contains(needle))
    };
    for needle in [
        "broken-2.0.dist-info/METADATA",
        "broken-2.0.dist-info/RECORD",
        "nometa-3.0.dist-info/METADATA",
        "weird-1.0.dist-info/RECORD",
        "direct_url.json",
        "loop_a",
        "bad-1-0.json",
        "missing",
        "not UTF-8",
    ] {
        assert!(
            warned(needle),
            "no warning about {needle}: {:#?}",
            report.warnings
        );
    }
    let map = PackageMap::parse(&report.map).unwrap();
    let s = sp.to_str().unwrap();
    assert_eq!(
        resolve(&map, format!("{s}/good/__init__.py")),
        format!("good 1.0 {s}")
    );
    assert_eq!(
        resolve(&map, format!("{s}/broken/a.py")),
        format!("broken 2.0 {s}")
    );
    assert_eq!(
        resolve(&map, format!("{s}/nometa.py")),
        format!("nometa 3.0 {s}")
    );
    let mut odd_path = sp.as_os_str().as_bytes().to_vec();
    odd_path.extend_from_slice(b"/caf\xe9/__init__.py");
    let d = match map.lookup(&odd_path) {
        pyusage_resolver::Lookup::Dist(d) => d,
        other => panic!("{other:?}"),
    };
    assert_eq!(d.name, b"caf\xe9");
}

#[test]
fn conflicts_are_reported_and_single_files_resolve() {
    let t = tempfile::tempdir().unwrap();
    let sp = t.path().join("site-packages");
    write(
        &sp.join("a-1.0.dist-info/METADATA"),
        "Name: a\nVersion: 1.0\n",
    );
    write(
        &sp.join("a-1.0.dist-info/RECORD"),
        "shared/x.py,,\nbin/a-tool,,\na.py,,\n",
    );
    write(
        &sp.join("b-2.0.dist-info/METADATA"),
        "Name: b\nVersion: 2.0\n",
    );
    write(
        &sp.join("b-2.0.dist-info/RECORD"),
        "shared/x.py,,\nshared/y.py,,\nbin/b-tool,,\n",
    );
    let report = build_with(&[(&sp, Some("e"))], &[]);
    assert_eq!(report.conflict_count, 1);
    assert!(report.conflicts[0].path.ends_with("shared/x.py"));
    let map = PackageMap::parse(&report.map).unwrap();
    let s = sp.to_str().unwrap();
    assert_eq!(resolve(&map, format!("{s}/bin/a-tool")), "a 1.0 e");
    assert_eq!(resolve(&map, format!("{s}/bin/b-tool")), "b 2.0 e");
    assert_eq!(resolve(&map, format!("{s}/bin/other-tool")), "unmapped");
    assert_eq!(resolve(&map, format!("{s}/shared/y.py")), "b 2.0 e");
    assert_eq!(resolve(&map, format!("{s}/a.py")), "a 1.0 e");
    assert_eq!(resolve(&map, format!("{s}/a.pyc")), "unmapped");
}

#[test]
fn diff_between_builds_and_atomic_write() {
    let t = tempfile::tempdir().unwrap();
    let sp = t.path().join("site-packages");
    let dist = |name: &str, v: &str| {
        write(
            &sp.join(format!("{name}-{v}.dist-info/METADATA")),
            &format!("Name: {name}\nVersion: {v}\n"),
        );
        write(
            &sp.join(format!("{name}-{v}.dist-info/RECORD")),
            &format!("{name}/__init__.py,,\n"),
        );
    };
    dist("keep", "1.0");
    dist("gone", "0.1");
    dist("up", "1.9");
    dist("down", "2.0");
    let old_bytes = build_with(&[(&sp, Some("e"))], &[]).map;
    let out = t.path().join("maps/package.map");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    pyusage_resolver::scan::write_atomically(&out, &old_bytes).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), old_bytes);
    for n in ["gone-0.1", "up-1.9", "down-2.0"] {
        std::fs::remove_dir_all(sp.join(format!("{n}.dist-info"))).unwrap();
    }
    dist("up", "1.10");
    dist("down", "1.5");
    dist("new", "0.1");
    let new_bytes = build_with(&[(&sp, Some("e"))], &[]).map;
    pyusage_resolver::scan::write_atomically(&out, &new_bytes).unwrap();
    assert_eq!(
        std::fs::read_dir(out.parent().unwrap()).unwrap().count(),
        1,
        "no temp file left"
    );
    let old = PackageMap::parse(&old_bytes).unwrap();
    let new = PackageMap::parse(&new_bytes).unwrap();
    let changes = diff(&old, &new);
    let s = |v: &str| v.to_string();
    assert_eq!(
        changes,
        vec![
            Change::Changed {
                env: s("e"),
                name: s("down"),
                old: s("2.0"),
                new: s("1.5"),
                upgrade: false
            },
            Change::Removed {
                env: s("e"),
                name: s("gone"),
                version: s("0.1")
            },
            Change::Changed {
                env: s("e"),
                name: s("up"),
                old: s("1.9"),
                new: s("1.10"),
                upgrade: true
            },
            Change::Installed {
                env: s("e"),
                name: s("new"),
                version: s("0.1")
            },
        ]
    );
}
