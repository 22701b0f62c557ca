//! Configuration and the package map, as the constructor loads them.

use crate::diag;
use crate::sys::{self, CPath};
use crate::syscall;
use pyusage_map_reader::{PackageMap, MAX_MAP_BYTES};
use pyusage_record::config::{Config, InlinePath, SYSTEM_CONFIG_PATH};

/// Reads the environment block the constructor was given.
pub struct Env(pub *const *const libc::c_char);

impl Env {
    /// The value of `name`, if set.
    pub fn get(&self, name: &[u8]) -> Option<&'static [u8]> {
        if self.0.is_null() {
            return None;
        }
        let mut p = self.0;
        // SAFETY: envp is the NULL-terminated array the loader passed to the
        // constructor; its strings live, unchanged, for the whole process
        // (the library reads them before `main` can call setenv).
        unsafe {
            while !(*p).is_null() {
                let entry = sys::cstr(*p);
                if entry.len() > name.len() && entry.starts_with(name) && entry[name.len()] == b'='
                {
                    return Some(&entry[name.len() + 1..]);
                }
                p = p.add(1);
            }
        }
        None
    }

    /// True if `name` is set to something other than empty or `0`.
    pub fn flag(&self, name: &[u8]) -> bool {
        matches!(self.get(name), Some(v) if !v.is_empty() && v != b"0")
    }
}

fn apply_file(config: &mut Config, path: *const libc::c_char, system: bool) -> bool {
    let mut buf = [0u8; 16 * 1024];
    match sys::read_file(path, &mut buf) {
        Some(text) => {
            config.apply(text, system);
            true
        }
        None => false,
    }
}

/// The configuration in force: the system file, then (if it allows) the
/// user's `PYUSAGE_CONFIG` file instead, then `PYUSAGE_*` overrides. A system
/// file with a line it cannot use turns tracing off.
pub fn load(env: &Env) -> Config {
    let mut config = Config::default();
    let mut system = CPath::new();
    if let Some(p) = system.push(SYSTEM_CONFIG_PATH.as_bytes()).as_ptr() {
        apply_file(&mut config, p, true);
    }
    // A broken system file: the admin's intent (which spool, whether to
    // trace at all) is unknown, so trace nothing; `pyusage config check`
    // names the line.
    if config.errors > 0 {
        let mut n = [0u8; 20];
        diag::debug(&[
            b"system config has a bad line; tracing off: line ",
            sys::decimal(u64::from(config.first_error_line), &mut n),
        ]);
        config.enabled = false;
        return config;
    }
    if !config.allow_user_config {
        return config;
    }
    if let Some(file) = env.get(b"PYUSAGE_CONFIG").filter(|v| !v.is_empty()) {
        let (opt_out, user_config) = (config.allow_opt_out, config.allow_user_config);
        config = Config::default();
        config.allow_opt_out = opt_out;
        config.allow_user_config = user_config;
        let mut path = CPath::new();
        let read = path
            .push(file)
            .as_ptr()
            .is_some_and(|p| apply_file(&mut config, p, false));
        if !read {
            diag::debug(&[b"cannot read PYUSAGE_CONFIG file ", file]);
        }
    }
    let overrides: [(&[u8], &mut InlinePath); 3] = [
        (b"PYUSAGE_SPOOL", &mut config.spool),
        (b"PYUSAGE_RUNTIME_DIR", &mut config.runtime_dir),
        (b"PYUSAGE_MAP", &mut config.map),
    ];
    for (name, slot) in overrides {
        // Absolute paths only: a relative one would follow the process's
        // working directory.
        if let Some(p) = env
            .get(name)
            .filter(|v| v.first() == Some(&b'/'))
            .and_then(InlinePath::new)
        {
            *slot = p;
        }
    }
    if config.errors > 0 {
        let mut n = [0u8; 20];
        diag::debug(&[
            b"ignored bad config line ",
            sys::decimal(u64::from(config.first_error_line), &mut n),
        ]);
    }
    config
}

/// Loads the package map. Any problem means no map: raw paths are recorded.
///
/// A map that someone changes in place (`cp` over it, `rsync --inplace`,
/// truncation) instead of renaming a new one over it would kill every
/// process that has it mapped (a read past a truncated end is SIGBUS) or
/// feed them garbage. So the file is mapped only when it is immutable
/// (`chattr +i`, which `pyusage map build --immutable` sets): then nobody can
/// change it in place. Otherwise it is read into private memory, and used
/// only if nobody wrote to it while it was read.
pub fn map_package_map(path: &InlinePath) -> Option<PackageMap<'static>> {
    if path.is_empty() {
        return None;
    }
    // SAFETY: path is NUL-terminated.
    let fd = unsafe { syscall::open(path.as_cstr(), libc::O_RDONLY | libc::O_CLOEXEC, 0) };
    if fd < 0 {
        return None;
    }
    let loaded = load_map(fd);
    syscall::close(fd); // a mapping outlives the descriptor
    let (base, size) = loaded?;
    // SAFETY: `base` is `size` readable bytes (a private copy, or a mapping of
    // an immutable file), never unmapped while the map is in use (only on
    // parse failure, below).
    let bytes: &'static [u8] = unsafe { core::slice::from_raw_parts(base, size) };
    match PackageMap::parse(bytes) {
        Ok(map) => Some(map),
        Err(_) => {
            diag::debug(&[
                b"package map is not valid; recording raw paths: ",
                path.as_bytes(),
            ]);
            // SAFETY: unmapping what load_map mapped; nothing refers to it.
            unsafe { syscall::munmap(base, size) };
            None
        }
    }
}

/// The map's bytes: the file itself if immutable, else a private copy.
fn load_map(fd: i32) -> Option<(*mut u8, usize)> {
    let before = syscall::file_version(fd)?;
    let size = u64::try_from(before.1).ok()?;
    if size == 0 || size > MAX_MAP_BYTES {
        return None;
    }
    let size = size as usize;
    if syscall::is_immutable(fd) {
        // SAFETY: a private read-only mapping of a regular file we opened.
        return unsafe { syscall::mmap(size, libc::PROT_READ, libc::MAP_PRIVATE, fd) }
            .ok()
            .map(|base| (base, size));
    }
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
    // SAFETY: an anonymous private mapping; no allocator involved.
    let base =
        unsafe { syscall::mmap(size, libc::PROT_READ | libc::PROT_WRITE, flags, -1) }.ok()?;
    let mut done = 0;
    while done < size {
        // SAFETY: writes stay within the `size` bytes mapped above.
        let n = unsafe { syscall::pread(fd, base.add(done), size - done, done as u64) };
        if n == -(libc::EINTR as isize) {
            continue;
        }
        if n <= 0 {
            break;
        }
        done += n as usize;
    }
    if done == size && syscall::file_version(fd) == Some(before) {
        Some((base, size))
    } else {
        // Shrunk, grown or rewritten while we read it: a torn copy.
        // SAFETY: unmapping our own buffer; nothing refers to it.
        unsafe { syscall::munmap(base, size) };
        None
    }
}
