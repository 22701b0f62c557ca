//! The RPM spec, built with Debian's `rpmbuild`, and the Spack recipe, its
//! syntax and its build steps run against the Makefile (dry run).

use crate::common::{bash, ok, shell_quote, show};
use crate::need_dist_lib;
use pyusage_tests::artifacts::repo_root;
use pyusage_tests::or_skip;
use std::path::Path;
use std::process::Command;

/// `rpmbuild -bb --build-in-place` from this checkout (with the library and
/// the command `make dist` built, `pyusage_prebuilt`): the package holds the
/// `make install` layout under /usr, the config as `%config(noreplace)`, the
/// spool 1733.
#[test]
fn rpm_spec_builds_a_package_with_the_install_layout() {
    need_dist_lib!();
    or_skip!(
        Path::new("/usr/bin/rpmbuild").is_file().then_some(()),
        "rpmbuild missing (Debian's rpm; tests/fixtures/system-deps.sh installs it)"
    );
    let spec = repo_root().join("packaging/rpm/pyusage.spec");
    let text = std::fs::read_to_string(&spec).unwrap();
    let version = format!("Version:        {}", env!("CARGO_PKG_VERSION"));
    assert!(
        text.contains(&version),
        "{} must say `{version}`",
        spec.display()
    );

    let top = tempfile::tempdir().unwrap();
    let out = Command::new("rpmbuild")
        .args(["-bb", "--build-in-place", "--nodeps"])
        .arg("--define")
        .arg(format!("_topdir {}", top.path().display()))
        .args(["--define", "pyusage_prebuilt 1"])
        .arg(&spec)
        .current_dir(repo_root())
        .env_remove("MAKEFLAGS")
        .output()
        .unwrap();
    assert!(out.status.success(), "rpmbuild failed: {}", show(&out));
    let rpm = top.path().join(format!(
        "RPMS/x86_64/pyusage-{}-1.x86_64.rpm",
        env!("CARGO_PKG_VERSION")
    ));
    assert!(rpm.is_file(), "{} missing: {}", rpm.display(), show(&out));

    let q = ok(Command::new("rpm")
        .args([
            "-qp",
            "--queryformat",
            "[%{FILEMODES:perms} %{FILEFLAGS:fflags} %{FILENAMES}\n]",
        ])
        .arg(&rpm));
    let listing = String::from_utf8_lossy(&q.stdout);
    let has = |line: &str| listing.lines().any(|l| l.trim_end() == line);
    let v = env!("CARGO_PKG_VERSION");
    for line in [
        "-rwxr-xr-x  /usr/bin/pyusage".to_string(),
        "-rw-r--r--  /usr/lib/pyusage/libpyusage.so".to_string(),
        format!("-rw-r--r--  /usr/share/modulefiles/pyusage/{v}.lua"),
        "-rwxr-xr-x  /usr/share/pyusage/slurm-epilog.sh".to_string(),
        "-rw-r--r--  /usr/share/pyusage/systemd/pyusage-sweep.timer".to_string(),
        "-rw-r--r--  /usr/share/pyusage/systemd/pyusage-tmpfiles.conf".to_string(),
        "-rw-r--r-- cn /etc/pyusage/config.toml".to_string(),
        "drwx-wx-wt  /var/spool/pyusage".to_string(),
        "drwxr-xr-x  /var/lib/pyusage".to_string(),
    ] {
        assert!(has(&line), "the RPM lacks `{line}`:\n{listing}");
    }
    // The modulefile inside names the RPM's prefix.
    let extract = tempfile::tempdir().unwrap();
    let x = bash(
        &format!(
            "cd {} && rpm2cpio {} | cpio -idm --quiet && cat ./usr/share/modulefiles/pyusage/{v}.lua",
            shell_quote(extract.path().to_str().unwrap()),
            shell_quote(rpm.to_str().unwrap())
        ),
        &[],
    );
    assert!(x.status.success(), "{}", show(&x));
    assert!(
        String::from_utf8_lossy(&x.stdout).contains("local prefix = \"/usr\""),
        "{}",
        show(&x)
    );
}

/// A stand-in for `spack.package` that records the recipe's directives and
/// runs its `make` calls as `make -n` against this checkout.
const SPACK_STUB: &str = r#"
import os, subprocess, sys
calls = []
directives = []
def _directive(name):
    def f(*a, **k):
        directives.append((name, a, k))
    return f
version = _directive("version")
variant = _directive("variant")
depends_on = _directive("depends_on")
license = _directive("license")
maintainers = _directive("maintainers")
def join_path(*p):
    return os.path.join(*p)
def make(*args):
    calls.append(list(args))
    r = subprocess.run(["make", "-n", "-C", os.environ["REPO"], *args],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.exit("make -n %s failed:\n%s" % (" ".join(args), r.stdout))
    print(r.stdout)
class MakefilePackage:
    pass
class _Env:
    def __init__(self):
        self.ops = []
    def prepend_path(self, k, v):
        self.ops.append(("prepend", k, v))
"#;

const SPACK_DRIVER: &str = r#"
import importlib.util, sys, types
sys.path.insert(0, sys.argv[2])
import spack_stub
sys.modules["spack"] = types.ModuleType("spack")
sys.modules["spack.package"] = spack_stub
spec = importlib.util.spec_from_file_location("package", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
names = [d[0] for d in spack_stub.directives]
assert "version" in names and "depends_on" in names, names
class Spec:
    def __init__(self, zig): self.zig = zig
    def satisfies(self, s): return (s == "+zig") == self.zig
pkg = mod.Pyusage()
prefix = sys.argv[3]
pkg.prefix = prefix
for zig in (True, False):
    pkg.build(Spec(zig), prefix)
    pkg.install(Spec(zig), prefix)
env = spack_stub._Env()
pkg.setup_run_environment(env)
print("CALLS", spack_stub.calls)
print("ENV", env.ops)
"#;

#[test]
fn spack_recipe_parses_and_its_make_steps_dry_run() {
    let recipe = repo_root().join("packaging/spack/package.py");
    let compiled = ok(Command::new("python3")
        .args(["-m", "py_compile"])
        .arg(&recipe)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONPYCACHEPREFIX", std::env::temp_dir()));
    assert!(compiled.stderr.is_empty(), "{}", show(&compiled));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spack_stub.py"), SPACK_STUB).unwrap();
    let prefix = "/spack/opt/linux-x86_64/pyusage-main-abc";
    let out = Command::new("python3")
        .arg("-c")
        .arg(SPACK_DRIVER)
        .arg(&recipe)
        .arg(dir.path())
        .arg(prefix)
        .env("REPO", repo_root())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("MAKEFLAGS")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    // The dry runs show the real steps: the zig build, then the installer
    // with the Spack prefix and its own etc/ and var/.
    assert!(
        text.contains("zigbuild --release -p pyusage-preload"),
        "{text}"
    );
    assert!(
        text.contains("cargo build --release -p pyusage-tools"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "PYUSAGE_SYSTEM_CONFIG={prefix}/etc/pyusage/config.toml"
        )),
        "the system config path is not compiled in: {text}"
    );
    assert!(
        text.contains(&format!("PREFIX='{prefix}'"))
            && text.contains(&format!("SYSCONFDIR='{prefix}/etc'"))
            && text.contains("bash packaging/install.sh"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "LD_PRELOAD', '{prefix}/lib/pyusage/libpyusage.so'"
        )),
        "{text}"
    );
}
