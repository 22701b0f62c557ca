//! The raw record's life: created lazily, appended to, finished, shipped.
//!
//! State machine (one per process image, reset in fork children):
//!
//! ```text
//!   NONE --first event--> CREATING --> READY --finish--> CLOSED
//!                             |          |  ^
//!                             |   os.exec|  |next event: the exec failed
//!                             |          v  |
//!                             |       EXEC_SHIPPED (the new image never returns)
//!                             \-> FAILED (no room, no directory: stop quietly)
//! ```

use crate::diag;
use crate::globals;
use crate::importer::{self, Importer};
use crate::sys::{self, ErrnoGuard};
use crate::syscall;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, Ordering};
use pyusage_map_reader::Lookup;
use pyusage_record::json::Out;
use pyusage_record::raw::{self, tag, Ending, Identity, Via, Writer};
use pyusage_record::render::{render, Overrides};

const NONE: u8 = 0;
const CREATING: u8 = 1;
const READY: u8 = 2;
const CLOSED: u8 = 3;
const FAILED: u8 = 4;
/// Shipped as `exec` at the `os.exec` event, still mapped in case the exec fails.
const EXEC_SHIPPED: u8 = 5;

static STATE: AtomicU8 = AtomicU8::new(NONE);
static BASE: AtomicPtr<u8> = AtomicPtr::new(core::ptr::null_mut());
static CAPACITY: AtomicU32 = AtomicU32::new(0);
/// The record's start (ns since the epoch), for `at_ms`.
static START_NS: AtomicU64 = AtomicU64::new(0);
/// Unmapped paths recorded; bounded so a huge source tree cannot fill the record.
static UNMAPPED: AtomicU32 = AtomicU32::new(0);
const MAX_UNMAPPED: u32 = 256;

fn ready_writer() -> Option<Writer> {
    if STATE.load(Ordering::Acquire) != READY {
        return None;
    }
    let base = BASE.load(Ordering::Relaxed);
    // SAFETY: BASE/CAPACITY were published before READY and stay mapped until
    // CLOSED; `create` already initialised the header, so re-wrapping it only
    // rebuilds the handle (the header is not rewritten: see `Writer::attach`).
    Some(unsafe { Writer::attach(base, CAPACITY.load(Ordering::Relaxed)) })
}

/// The record, created now if this is the first thing worth recording.
pub fn ensure() -> Option<Writer> {
    loop {
        match STATE.compare_exchange(NONE, CREATING, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                let created = create();
                STATE.store(if created { READY } else { FAILED }, Ordering::Release);
                return if created { ready_writer() } else { None };
            }
            Err(CREATING) => core::hint::spin_loop(),
            Err(READY) => return ready_writer(),
            Err(_) => return None,
        }
    }
}

/// Appends an entry if the record exists or can be created.
pub fn append(t: u8, parts: &[&[u8]]) {
    if let Some(w) = ensure() {
        w.append(t, parts);
    }
}

/// Appends an entry only if the record already exists.
pub fn append_if_open(t: u8, parts: &[&[u8]]) {
    if let Some(w) = ready_writer() {
        w.append(t, parts);
    }
}

/// Records a module whose code the process ran (`via = import`, from the
/// `exec` audit event) or an extension module it loaded (`via = extension`).
///
/// `path` is the code's `co_filename`. With `use_opened`, when `path` does
/// not resolve, the module file the import system opened just before is
/// used if it holds the same module (a sourceless `.pyc` compiled elsewhere);
/// it is fetched only then, so the common case copies nothing.
/// What is new gets who imported it and when ([`importer`]); what start-up
/// machinery imported (a `.pth` line) is not recorded.
pub fn note_ran(path: &[u8], via: Via, use_opened: bool) {
    let map = globals::get().map.as_ref();
    let lookup_of = |p: &[u8]| map.map_or(Lookup::Unmapped, |m| lookup_source(m, p));
    let lookup = lookup_of(path);
    if use_opened && matches!(lookup, Lookup::Unmapped) {
        // Only code no distribution claims pays for the copy (the user's
        // own modules, once per module).
        let mut buf = [0u8; crate::lastopen::CAP];
        let opened = crate::lastopen::take(&mut buf);
        if let Some(o) = opened.filter(|o| crate::lastopen::same_module(path, o)) {
            // The sourceless .pyc is shown where it is.
            return note_resolved(lookup_of(o), o, via);
        }
    }
    note_resolved(lookup, path, via);
}

/// Records what `lookup` says about code from `shown`, if new.
fn note_resolved(lookup: Lookup<'_>, shown: &[u8], via: Via) {
    match lookup {
        Lookup::Stdlib => {}
        Lookup::Dist(d) => {
            if crate::seen::has_dist(d.id, via) {
                return;
            }
            let who = importer::current();
            if who == Importer::Startup {
                return;
            }
            if crate::seen::first_dist(d.id, via) {
                let mut digits = [0u8; 20];
                let (by, at) = origin(who, &mut digits);
                append(
                    tag::PACKAGE,
                    &[
                        &[via.byte()],
                        d.name,
                        b"\0",
                        d.version,
                        b"\0",
                        d.env,
                        b"\0",
                        by,
                        b"\0",
                        at,
                    ],
                );
            }
        }
        Lookup::Unmapped => note_unmapped(shown, via),
    }
}

/// Looks `path` up; a cached `dir/__pycache__/mod.*.pyc` that the map does
/// not list (the installer did not compile it) is looked up as `dir/mod.py`.
fn lookup_source<'m>(map: &pyusage_map_reader::PackageMap<'m>, path: &[u8]) -> Lookup<'m> {
    match map.lookup(path) {
        Lookup::Unmapped => {}
        found => return found,
    }
    let (_, parts) = module_source(path);
    if parts[1].is_empty() {
        return Lookup::Unmapped;
    }
    let mut buf = [0u8; 1024];
    let n = parts.iter().map(|p| p.len()).sum::<usize>();
    if n > buf.len() {
        return Lookup::Unmapped;
    }
    let mut at = 0;
    for p in parts {
        buf[at..at + p.len()].copy_from_slice(p);
        at += p.len();
    }
    map.lookup(&buf[..n])
}

/// A module file no distribution claims: kept (one per directory, bounded)
/// with who imported it, unless it is the standard library.
fn note_unmapped(path: &[u8], via: Via) {
    if crate::stdlib::contains(path) {
        return;
    }
    let (dir, parts) = module_source(path);
    let h = crate::seen::hash(b'u', dir);
    if crate::seen::has_hash(h) {
        return;
    }
    let who = importer::current();
    if who == Importer::Startup {
        return;
    }
    if crate::seen::first_hash(h) && UNMAPPED.fetch_add(1, Ordering::Relaxed) < MAX_UNMAPPED {
        let mut digits = [0u8; 20];
        let (by, at) = origin(who, &mut digits);
        append(
            tag::UNMAPPED,
            &[
                &[via.byte()],
                parts[0],
                parts[1],
                parts[2],
                b"\0",
                by,
                b"\0",
                at,
            ],
        );
    }
}

/// The `by` and `at_ms` fields of a sighting made now.
fn origin(who: Importer, digits: &mut [u8; 20]) -> (&'static [u8], &[u8]) {
    let by: &'static [u8] = match who {
        Importer::Dist(name) => name,
        _ => b"",
    };
    let start = START_NS.load(Ordering::Relaxed);
    let now = sys::now_ns();
    let at: &[u8] = if start != 0 && now >= start {
        sys::decimal((now - start) / 1_000_000, digits)
    } else {
        b""
    };
    (by, at)
}

/// Records the native libraries loaded since the last look (after an import).
pub fn note_new_libraries() {
    crate::native::scan_new(note_native);
}

/// A loaded native library: its kind (CUDA, MPI, BLAS...), once per file,
/// and the distribution it belongs to.
fn note_native(path: &[u8]) {
    let file = path.rsplit(|&c| c == b'/').next().unwrap_or(path);
    if let Some(kind) = raw::native::classify(file) {
        if crate::seen::first_hash(crate::seen::hash(b'n', path)) {
            append(tag::NATIVE, &[&[kind], file]);
        }
    }
    note_library(path);
}

/// Resolves a native library's path and records the distribution it
/// belongs to, if new (`via = library`). Libraries no distribution claims
/// are system libraries: only their kind matters ([`note_native`]).
fn note_library(path: &[u8]) {
    if let Some(Lookup::Dist(d)) = globals::get().map.as_ref().map(|m| m.lookup(path)) {
        if crate::seen::first_dist(d.id, Via::Library) {
            append(
                tag::PACKAGE,
                &[
                    &[Via::Library.byte()],
                    d.name,
                    b"\0",
                    d.version,
                    b"\0",
                    d.env,
                ],
            );
        }
    }
}

/// The module's directory and its path in three parts. A cached
/// `dir/__pycache__/mod.cpython-311.pyc` (which the import system may only
/// have tried to open) is reported as its source, `dir/mod.py`.
fn module_source(path: &[u8]) -> (&[u8], [&[u8]; 3]) {
    fn split(p: &[u8]) -> Option<(&[u8], &[u8])> {
        p.iter()
            .rposition(|&c| c == b'/')
            .map(|i| (&p[..i], &p[i + 1..]))
    }
    if let Some((cache, file)) = split(path) {
        if let Some((dir, b"__pycache__")) = split(cache) {
            if let (true, Some(stem)) = (file.ends_with(b".pyc"), file.split(|&c| c == b'.').next())
            {
                return (dir, [&path[..dir.len() + 1], stem, b".py"]);
            }
        }
        return (cache, [path, b"", b""]);
    }
    (path, [path, b"", b""])
}

fn runtime_dir() -> &'static [u8] {
    globals::get()
        .config
        .as_ref()
        .map_or(&b""[..], |c| c.runtime_dir.as_bytes())
}

/// The raw record's file name: `rec-<pid>-<nonce>.bin`. The nonce is random
/// and unrelated to the record id, so listing the runtime directory tells
/// nobody the name a record will have in the spool.
fn raw_name(pid: u32, nonce: u64) -> sys::CPath {
    let mut digits = [0u8; 20];
    let mut name = sys::CPath::new();
    name.push(b"rec-")
        .push(sys::decimal(u64::from(pid), &mut digits))
        .push(b"-")
        .push(&raw::hex16(&nonce_bytes(nonce))[16..])
        .push(b".bin");
    name
}

fn nonce_bytes(nonce: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[8..].copy_from_slice(&nonce.to_be_bytes());
    b
}

/// The raw file's nonce, and whether the record lives in memory only (no
/// usable runtime directory: shipped at exit, not by the sweep).
static NONCE: AtomicU64 = AtomicU64::new(0);
static IN_MEMORY: AtomicBool = AtomicBool::new(false);

/// Opens the runtime directory, making it if missing (world-writable and
/// sticky, like /tmp). It is used only if it is a real directory owned by
/// root or by this process's user and, if others can write to it, sticky:
/// otherwise its owner, or anyone, could delete or replace this process's
/// raw record (or a user who made it first with mode 0755 would stop every
/// other user's records).
fn open_runtime_dir() -> Option<sys::Dir> {
    let mut path = sys::CPath::new();
    let p = path.push(runtime_dir()).as_ptr()?;
    // SAFETY: p is NUL-terminated.
    if unsafe { syscall::mkdir(p, 0o1777) } == 0 {
        // SAFETY: as above; mkdir applied the umask, chmod does not.
        unsafe { syscall::chmod(p, 0o1777) };
    }
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: p is NUL-terminated.
    let fd = unsafe { syscall::open(p, flags, 0) };
    if fd < 0 {
        return None;
    }
    let dir = sys::Dir(fd);
    let (owner, mode) = syscall::owner_and_mode(dir.0).ok()?;
    let trusted_owner = owner == 0 || owner == syscall::getuid();
    let shared = mode & 0o022 != 0;
    if trusted_owner && (!shared || mode & 0o1000 != 0) {
        Some(dir)
    } else {
        diag::debug(&[
            b"runtime dir not owned by root or this user, or writable by others without the sticky bit; keeping the record in memory: ",
            runtime_dir(),
        ]);
        None
    }
}

/// Creates the raw record file in `dir` and maps it shared; `None` if that
/// is impossible (no room: a full tmpfs).
fn map_raw_file(dir: &sys::Dir, name: *const libc::c_char, capacity: u32) -> Option<*mut u8> {
    let flags = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: name is NUL-terminated; dir.0 is an open directory.
    let fd = unsafe { syscall::openat(dir.0, name, flags, 0o600) };
    if fd < 0 {
        diag::debug(&[b"cannot create raw record in ", runtime_dir()]);
        return None;
    }
    // fallocate, not ftruncate: writing into a sparse MAP_SHARED file on a
    // full tmpfs kills the process with SIGBUS; this fails cleanly instead.
    let base = if syscall::fallocate(fd, i64::from(capacity)) == 0 {
        // SAFETY: a shared mapping of `capacity` bytes just reserved in the file.
        unsafe {
            syscall::mmap(
                capacity as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
            )
        }
        .ok()
    } else {
        None
    };
    syscall::close(fd); // the mapping outlives the descriptor
    if base.is_none() {
        // SAFETY: name is the file we created in dir.
        unsafe { syscall::unlinkat(dir.0, name) };
        diag::debug(&[b"no room for a raw record in ", runtime_dir()]);
    }
    base
}

fn create() -> bool {
    let g = globals::get();
    let Some(config) = g.config.as_ref() else {
        return false;
    };
    let capacity = config.record_bytes;
    let mut who = Identity {
        pid: g.pid,
        ppid: syscall::getppid(),
        uid: syscall::getuid(),
        forked_from: g.forked_from,
        start_ns: if g.forked_from != 0 {
            sys::now_ns()
        } else {
            g.start_ns
        },
        proc_start_ticks: sys::proc_start_ticks(),
        sample_ppm: g.sample_ppm,
        id: [0; 16],
    };
    sys::random(&mut who.id);
    let mut nonce = [0u8; 8];
    sys::random(&mut nonce);
    let nonce = u64::from_ne_bytes(nonce);
    let mut name = raw_name(who.pid, nonce);
    let on_file = match (open_runtime_dir(), name.as_ptr()) {
        (Some(dir), Some(name)) => map_raw_file(&dir, name, capacity),
        _ => None,
    };
    // Without a usable runtime directory (planted, full, missing) the record
    // is built in memory and shipped at exit: a killed process then leaves
    // nothing for the sweep, but every other ending is recorded.
    let base = match on_file {
        Some(base) => base,
        // SAFETY: an anonymous private mapping; no allocator involved.
        None => match unsafe {
            syscall::mmap(
                capacity as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
            )
        } {
            Ok(base) => base,
            Err(_) => return false,
        },
    };
    IN_MEMORY.store(on_file.is_none(), Ordering::Relaxed);
    NONCE.store(nonce, Ordering::Relaxed);
    // SAFETY: fresh zero-filled mapping of `capacity` bytes, page aligned.
    let w = unsafe { Writer::create(base, capacity, &who) };
    BASE.store(base, Ordering::Relaxed);
    CAPACITY.store(capacity, Ordering::Relaxed);
    START_NS.store(who.start_ns, Ordering::Relaxed);
    write_context(&w);
    true
}

/// Facts about the process that do not change while it runs.
fn write_context(w: &Writer) {
    let g = globals::get();
    let mut exe = [0u8; 1024];
    // SAFETY: exe is a valid buffer of that length.
    let n = unsafe { syscall::readlink(c"/proc/self/exe".as_ptr(), exe.as_mut_ptr(), exe.len()) };
    if n > 0 {
        w.append(tag::EXE, &[&exe[..n as usize]]);
    }
    // SAFETY: uts is a valid out-pointer.
    let mut uts: libc::utsname = unsafe { core::mem::zeroed() };
    if syscall::uname(&mut uts) == 0 {
        // SAFETY: the kernel NUL-terminates nodename; `uts` outlives the use.
        w.append(tag::HOST, &[unsafe { sys::cstr(uts.nodename.as_ptr()) }]);
    }
    if !g.user.get().is_empty() {
        w.append(tag::USER, &[g.user.get()]);
    }
    if let Some(script) = &g.script {
        w.append(tag::SCRIPT, &[script.get()]);
    }
    if !g.notebook.get().is_empty() {
        w.append(tag::NOTEBOOK, &[g.notebook.get()]);
    }
    if let Some(version) = g.api.and_then(|a| a.get_version) {
        // SAFETY: Py_GetVersion returns a static string, valid before and after
        // initialisation ("3.11.7 (main, ...) [GCC ...]").
        let full = unsafe { sys::cstr(version()) };
        let short = full.split(|&c| c == b' ').next().unwrap_or(full);
        w.append(tag::PY_VERSION, &[short]);
    }
    with_prefix(|prefix| {
        w.append(tag::PY_PREFIX, &[prefix]);
    });
    let implementation: &[u8] = if g.api.is_some_and(|a| a.pypy) {
        b"pypy"
    } else {
        b"cpython"
    };
    w.append(tag::PY_IMPL, &[implementation]);
    for field in g.job.get().split(|&c| c == 0).filter(|f| !f.is_empty()) {
        w.append(tag::JOB, &[field]);
    }
}

/// The latest `sys.prefix`, kept for records created later (a fork child's).
struct Prefix {
    busy: AtomicBool,
    hash: AtomicU64,
    text: UnsafeCell<([u8; 512], usize)>,
}
// SAFETY: `text` is only touched by whoever holds `busy`.
unsafe impl Sync for Prefix {}

static PREFIX: Prefix = Prefix {
    busy: AtomicBool::new(false),
    hash: AtomicU64::new(0),
    text: UnsafeCell::new(([0; 512], 0)),
};

/// The interpreter's `sys.prefix` at an import: the interpreter sets it
/// before the first import, and `site` changes it afterwards in a
/// virtualenv. A new one is kept (for records made later) and appended to
/// the record if it exists; the renderer takes the last one recorded.
pub fn note_prefix(prefix: &[u8]) {
    if update_prefix(prefix) {
        append_if_open(tag::PY_PREFIX, &[prefix]);
    }
}

/// Stores `prefix`; true if it differs from the one stored before.
fn update_prefix(prefix: &[u8]) -> bool {
    let h = crate::seen::hash(b'p', prefix);
    if PREFIX.hash.load(Ordering::Relaxed) == h || PREFIX.busy.swap(true, Ordering::Acquire) {
        return false;
    }
    // SAFETY: we hold `busy`.
    let text = unsafe { &mut *PREFIX.text.get() };
    let n = prefix.len().min(text.0.len());
    text.0[..n].copy_from_slice(&prefix[..n]);
    text.1 = n;
    PREFIX.hash.store(h, Ordering::Relaxed);
    PREFIX.busy.store(false, Ordering::Release);
    true
}

/// In a fork child: the fork may have been taken while another thread held
/// `busy` (that thread does not exist in the child). Free it, and forget the
/// possibly half-written text so the next import stores it again.
fn reset_prefix_after_fork() {
    PREFIX.hash.store(0, Ordering::Relaxed);
    PREFIX.busy.store(false, Ordering::Release);
}

/// Calls `f` with the latest `sys.prefix`, if one is known.
fn with_prefix(f: impl FnOnce(&[u8])) {
    if PREFIX.busy.swap(true, Ordering::Acquire) {
        return;
    }
    // SAFETY: we hold `busy`.
    let text = unsafe { &*PREFIX.text.get() };
    if text.1 > 0 {
        f(&text.0[..text.1]);
    }
    PREFIX.busy.store(false, Ordering::Release);
}

/// Counts a fork child in this (the parent's) record.
pub fn count_fork() {
    if let Some(w) = ready_writer() {
        w.count_fork();
    }
}

/// In a fork child: the inherited mapping is the parent's record. Drop it;
/// the child gets its own record if it records anything new.
pub fn forget_inherited() {
    let base = BASE.swap(core::ptr::null_mut(), Ordering::Relaxed);
    if !base.is_null() {
        // SAFETY: unmapping the child's copy of the parent's mapping; the
        // parent's own mapping is unaffected.
        unsafe { syscall::munmap(base, CAPACITY.load(Ordering::Relaxed) as usize) };
    }
    UNMAPPED.store(0, Ordering::Relaxed);
    reset_prefix_after_fork();
    STATE.store(NONE, Ordering::Release);
}

/// Finishes and ships the record; called once the process is ending.
///
/// `create_if_missing` is for interpreters without an audit hook, whose
/// record is only made at the end.
pub fn finish(how: Ending, status: i32, create_if_missing: bool) {
    let _errno = ErrnoGuard::new();
    resume_after_failed_exec();
    if create_if_missing && STATE.load(Ordering::Acquire) == NONE {
        ensure();
    }
    if STATE.load(Ordering::Acquire) != READY {
        return;
    }
    crate::native::scan_all(note_native);
    if STATE
        .compare_exchange(READY, CLOSED, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return; // another thread is finishing it
    }
    let base = BASE.load(Ordering::Relaxed);
    let capacity = CAPACITY.load(Ordering::Relaxed);
    // SAFETY: as in ready_writer; we are the only finisher (CAS above).
    let w = unsafe { Writer::attach(base, capacity) };
    w.set_ending(how, status, 0, sys::now_ns());
    let shipped = ship(&w);
    if shipped {
        w.mark_shipped();
    }
    if how == Ending::Exec {
        // The exec may still fail and the process go on: keep the record.
        // If the new image starts, the raw file (marked shipped) is left for
        // the sweep to remove.
        EXEC_WAS_SHIPPED.store(shipped, Ordering::Relaxed);
        STATE.store(EXEC_SHIPPED, Ordering::Release);
        return;
    }
    if shipped && !IN_MEMORY.load(Ordering::Relaxed) {
        let name = raw_name(w.view().pid, NONCE.load(Ordering::Relaxed));
        let mut path = sys::CPath::in_dir(runtime_dir(), &[name.as_bytes()]);
        if let Some(p) = path.as_ptr() {
            // SAFETY: p names our own raw record.
            unsafe { syscall::unlink(p) };
        }
    }
    // The mapping stays: another thread may have taken a writer before the
    // state became CLOSED and still be appending (free-threaded builds, C
    // threads calling `exit`). The process is ending; the kernel unmaps it.
}

/// Whether the record shipped at `os.exec` reached the spool.
static EXEC_WAS_SHIPPED: AtomicBool = AtomicBool::new(false);

/// Called on every audit event and at exit: if the process is still running
/// after shipping its record as `exec`, the exec failed. Withdraw the shipped
/// copy and carry on with the same record, so one process stays one record.
/// (An ingest that picked the copy up in between sees the same id twice and
/// keeps the later one.)
pub fn resume_after_failed_exec() {
    if STATE.load(Ordering::Relaxed) != EXEC_SHIPPED
        || STATE
            .compare_exchange(EXEC_SHIPPED, CLOSED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
    {
        return;
    }
    // SAFETY: the mapping was kept for exactly this (see finish).
    let w = unsafe {
        Writer::attach(
            BASE.load(Ordering::Relaxed),
            CAPACITY.load(Ordering::Relaxed),
        )
    };
    if EXEC_WAS_SHIPPED.swap(false, Ordering::Relaxed) {
        let spool = globals::get()
            .config
            .as_ref()
            .map_or(&b""[..], |c| c.spool.as_bytes());
        crate::spool::withdraw(spool, &w.view().id_hex());
    }
    w.reopen();
    STATE.store(READY, Ordering::Release);
}

/// Renders the record and ships it to the configured sinks (the spool as
/// `<id>.json`, syslog). False if a sink did not take it; the raw record
/// then stays for `pyusage sweep`.
fn ship(w: &Writer) -> bool {
    let g = globals::get();
    let Some(config) = g.config.as_ref() else {
        return false;
    };
    let view = w.view();
    let id_hex = view.id_hex();
    // Escaping can grow text up to six-fold; the mapping is freed below.
    let out_len = w.capacity() as usize * 6 + 4096;
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
    // SAFETY: an anonymous private mapping; no allocator involved.
    let Ok(out) =
        (unsafe { syscall::mmap(out_len, libc::PROT_READ | libc::PROT_WRITE, flags, -1) })
    else {
        return false;
    };
    // SAFETY: the mapping is out_len writable bytes, ours until munmap below.
    let buf = unsafe { core::slice::from_raw_parts_mut(out, out_len) };
    let mut json = Out::new(buf);
    render(&view, None, &Overrides::default(), &mut json);
    json.raw(b"\n");
    let ok = !json.overflowed() && crate::sinks::ship(config, view.pid, &id_hex, json.as_bytes());
    // SAFETY: unmapping our own buffer.
    unsafe { syscall::munmap(out, out_len) };
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fork taken while another thread held the prefix slot: the child
    /// frees it and stores the prefix again at its next import.
    #[test]
    fn prefix_slot_is_freed_in_a_fork_child() {
        assert!(update_prefix(b"/venv/a"));
        PREFIX.busy.store(true, Ordering::Release); // held by a thread gone in the child
        assert!(!update_prefix(b"/venv/b"));
        let mut seen = None;
        with_prefix(|p| seen = Some(p.to_vec()));
        assert_eq!(seen, None);
        reset_prefix_after_fork();
        assert!(update_prefix(b"/venv/a"), "stored again after the fork");
        with_prefix(|p| seen = Some(p.to_vec()));
        assert_eq!(seen.as_deref(), Some(&b"/venv/a"[..]));
    }

    #[test]
    fn cached_modules_are_reported_as_their_source() {
        let (dir, p) = module_source(b"/h/u/proj/__pycache__/mymod.cpython-311.pyc");
        assert_eq!(dir, b"/h/u/proj");
        assert_eq!(p.concat(), b"/h/u/proj/mymod.py");
        let (dir, p) = module_source(b"/h/u/proj/pkg/__init__.py");
        assert_eq!(
            (dir, p.concat()),
            (&b"/h/u/proj/pkg"[..], b"/h/u/proj/pkg/__init__.py".to_vec())
        );
        let (dir, p) = module_source(b"/opt/x.pyc");
        assert_eq!((dir, p.concat()), (&b"/opt"[..], b"/opt/x.pyc".to_vec()));
    }
}
