//! Run a program plain or under the tracer and capture what a user sees.

use crate::tracer::Tracer;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long any one program may run before the harness calls it hung. This
/// is a guard against a deadlocked tracer, not a performance threshold.
const HANG_GUARD: Duration = Duration::from_secs(300);

/// The user the tests claim to be (`$USER`, `$LOGNAME`).
pub const TEST_USER: &str = "pyusage-tester";

/// A program to run, with a clean, fixed environment.
#[derive(Clone, Debug)]
pub struct Prog {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    cwd: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
    arg0: Option<OsString>,
}

/// What a run left: the user-visible result and the pid it had.
#[derive(Clone)]
pub struct Outcome {
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
    /// Exit status or terminating signal.
    pub status: ExitStatus,
    /// The pid of the process the harness started.
    pub pid: u32,
}

impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pid {} {}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.pid,
            describe(self.status),
            String::from_utf8_lossy(&self.stdout),
            String::from_utf8_lossy(&self.stderr)
        )
    }
}

fn describe(s: ExitStatus) -> String {
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (_, Some(sig)) => format!("killed by signal {sig}"),
        _ => format!("{s:?}"),
    }
}

impl Outcome {
    /// Exit status, panicking when the process was killed by a signal.
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("expected an exit status: {self:?}"))
    }

    /// Stdout as text.
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Assert the process exited with status 0.
    pub fn assert_success(&self) -> &Self {
        assert_eq!(self.status.code(), Some(0), "expected success: {self:?}");
        self
    }

    /// Assert stdout, stderr and exit status (or signal) are byte-identical.
    pub fn assert_same_as(&self, plain: &Outcome, what: &str) {
        let same = self.stdout == plain.stdout
            && self.stderr == plain.stderr
            && self.status.into_raw() == plain.status.into_raw();
        assert!(
            same,
            "{what}: the traced run differs from the plain run\n=== plain ===\n{plain:?}\n=== traced ===\n{self:?}"
        );
    }
}

impl Prog {
    /// `program args...` with a minimal environment: `PATH`, `HOME`,
    /// `LANG=C.UTF-8`, `USER`/`LOGNAME` = [`TEST_USER`],
    /// `PYTHONDONTWRITEBYTECODE=1` (fixtures stay untouched), and nothing else
    /// (no inherited `PYTHON*`, `SLURM_*` or `PYUSAGE_*`).
    pub fn new(program: impl AsRef<Path>) -> Self {
        let env = vec![
            ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
            (
                "HOME".into(),
                std::env::var_os("HOME").unwrap_or("/".into()),
            ),
            ("LANG".into(), "C.UTF-8".into()),
            ("USER".into(), TEST_USER.into()),
            ("LOGNAME".into(), TEST_USER.into()),
            ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
        ];
        Prog {
            program: program.as_ref().to_path_buf(),
            args: Vec::new(),
            env,
            cwd: None,
            stdin: None,
            arg0: None,
        }
    }

    /// Append one argument.
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.args.push(a.as_ref().to_os_string());
        self
    }

    /// Append arguments.
    pub fn args<I, S>(mut self, it: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for a in it {
            self.args.push(a.as_ref().to_os_string());
        }
        self
    }

    /// Set (or replace) an environment variable for both runs.
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        let k = k.as_ref().to_os_string();
        self.env.retain(|(x, _)| *x != k);
        self.env.push((k, v.as_ref().to_os_string()));
        self
    }

    /// Run in this directory (default: the test's own cwd).
    pub fn cwd(mut self, d: impl AsRef<Path>) -> Self {
        self.cwd = Some(d.as_ref().to_path_buf());
        self
    }

    /// Feed these bytes on stdin (default: `/dev/null`).
    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(data.into());
        self
    }

    /// Start the program with this `argv[0]` (default: its path).
    pub fn arg0(mut self, a: impl AsRef<OsStr>) -> Self {
        self.arg0 = Some(a.as_ref().to_os_string());
        self
    }

    /// The program path.
    pub fn program(&self) -> &Path {
        &self.program
    }

    fn command(&self, extra: &[(OsString, OsString)]) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args).env_clear();
        for (k, v) in self.env.iter().chain(extra) {
            c.env(k, v);
        }
        if let Some(d) = &self.cwd {
            c.current_dir(d);
        }
        if let Some(a) = &self.arg0 {
            std::os::unix::process::CommandExt::arg0(&mut c, a);
        }
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        c.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        c
    }

    /// Same program through `pyusage run --spool S --runtime-dir R [--map M] --`.
    pub fn via_pyusage_run(&self, t: &Tracer) -> Prog {
        let mut p = Prog::new(crate::artifacts::pyusage())
            .arg("run")
            .arg("--spool")
            .arg(&t.spool)
            .arg("--runtime-dir")
            .arg(&t.runtime);
        if let Some(m) = &t.map {
            p = p.arg("--map").arg(m);
        }
        p = p.arg("--").arg(&self.program).args(&self.args);
        p.env = self.env.clone();
        p.cwd = self.cwd.clone();
        p.stdin = self.stdin.clone();
        p
    }

    /// Start without the tracer.
    pub fn spawn_plain(&self) -> Running {
        self.spawn_with(&[])
    }

    /// Start under the tracer `t`.
    pub fn spawn_traced(&self, t: &Tracer) -> Running {
        self.spawn_with(&t.env())
    }

    /// Start with these extra environment variables.
    pub fn spawn_with(&self, extra: &[(OsString, OsString)]) -> Running {
        let mut child = self
            .command(extra)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.program.display()));
        if let Some(data) = &self.stdin {
            let mut w = child.stdin.take().unwrap();
            let data = data.clone();
            std::thread::spawn(move || {
                let _ = w.write_all(&data);
            });
        }
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = err.read_to_end(&mut v);
            v
        });
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Running {
            pid: child.id(),
            child,
            stdout: Some(stdout),
            seen: Vec::new(),
            stderr: Some(stderr),
        }
    }

    /// Run to completion without the tracer.
    pub fn run_plain(&self) -> Outcome {
        self.spawn_plain().finish()
    }

    /// Run to completion under the tracer.
    pub fn run_traced(&self, t: &Tracer) -> Outcome {
        self.spawn_traced(t).finish()
    }

    /// Run plain, then traced; assert both look the same to the user; return
    /// the traced outcome.
    pub fn run_both(&self, t: &Tracer) -> Outcome {
        let plain = self.run_plain();
        let traced = self.run_traced(t);
        traced.assert_same_as(&plain, &format!("{self}"));
        traced
    }
}

impl fmt::Display for Prog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.program.display())?;
        for a in &self.args {
            write!(f, " {:?}", a)?;
        }
        Ok(())
    }
}

/// A started program.
pub struct Running {
    /// Its pid.
    pub pid: u32,
    child: Child,
    stdout: Option<BufReader<ChildStdout>>,
    seen: Vec<u8>,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

impl Running {
    /// Read stdout until a line equal to `line` (without newline) arrives,
    /// returning everything read so far. Panics at EOF.
    pub fn wait_for_line(&mut self, line: &str) -> Vec<u8> {
        let r = self.stdout.as_mut().unwrap();
        loop {
            let mut buf = Vec::new();
            let n = r.read_until(b'\n', &mut buf).expect("read child stdout");
            self.seen.extend_from_slice(&buf);
            if n == 0 {
                let _ = self.child.kill();
                panic!(
                    "pid {} closed stdout before printing {line:?}; got {:?}",
                    self.pid,
                    String::from_utf8_lossy(&self.seen)
                );
            }
            if buf.strip_suffix(b"\n").unwrap_or(&buf) == line.as_bytes() {
                return self.seen.clone();
            }
        }
    }

    /// Wait until the process is asleep (state `S` in `/proc/PID/stat`),
    /// e.g. in the `time.sleep` that follows its "ready" line, so that a
    /// signal sent next lands at the same place in every run.
    pub fn wait_sleeping(&self) {
        let path = format!("/proc/{}/stat", self.pid);
        let start = Instant::now();
        loop {
            let stat = std::fs::read_to_string(&path).unwrap_or_default();
            // The state follows the parenthesised command name.
            let state = stat.rsplit_once(") ").and_then(|(_, r)| r.chars().next());
            if state == Some('S') {
                return;
            }
            assert!(
                state.is_some() && start.elapsed() < HANG_GUARD,
                "pid {} never went to sleep (state {state:?})",
                self.pid
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Send a signal.
    pub fn kill(&self, sig: i32) {
        // SAFETY: plain kill(2) on our own child, which has not been reaped.
        let rc = unsafe { libc::kill(self.pid as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill({}, {sig}) failed", self.pid);
    }

    /// Wait for the process to end and collect its output.
    pub fn finish(mut self) -> Outcome {
        let mut r = self.stdout.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        });
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait for child") {
                break s;
            }
            if start.elapsed() > HANG_GUARD {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "pid {} still running after {:?}: hung (deadlock under the tracer?)",
                    self.pid, HANG_GUARD
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let mut stdout = std::mem::take(&mut self.seen);
        stdout.extend(out.join().unwrap());
        let stderr = self.stderr.take().unwrap().join().unwrap();
        Outcome {
            stdout,
            stderr,
            status,
            pid: self.pid,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.stdout.is_some() {
            // Dropped without finish (a failed assertion): don't leave it behind.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
