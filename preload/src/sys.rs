//! Thin wrappers over the system calls the tracer needs. Every one is
//! async-signal-safe; none allocates. Like [`crate::syscall`] and
//! [`crate::elf`] below it, this layer knows nothing of settings: what to do
//! is always the caller's argument.

use crate::syscall;
use core::ffi::{c_char, c_int, c_void};
use core::sync::atomic::{AtomicPtr, Ordering};

/// glibc's `__errno_location`, found at start-up in Python processes only
/// (see [`crate::elf`] for why the library imports nothing it can avoid).
static ERRNO_LOCATION: AtomicPtr<c_void> = AtomicPtr::new(core::ptr::null_mut());

/// Finds `__errno_location` (constructor, Python processes).
pub fn resolve_errno() {
    if let Some(f) = crate::elf::find(c"__errno_location", crate::elf::Scope::Object(b"libc.so")) {
        ERRNO_LOCATION.store(f as *mut c_void, Ordering::Relaxed);
    }
}

fn errno_slot() -> Option<*mut c_int> {
    let f = ERRNO_LOCATION.load(Ordering::Relaxed);
    if f.is_null() {
        return None;
    }
    // SAFETY: f is glibc's __errno_location, which returns this thread's errno slot.
    Some(unsafe { core::mem::transmute::<*mut c_void, extern "C" fn() -> *mut c_int>(f)() })
}

/// Saves `errno` and puts it back when dropped, so no entry point of the
/// library changes what the host program sees (CPython's API, called from the
/// audit hook, may set it; our own system calls never do).
pub struct ErrnoGuard(Option<(*mut c_int, c_int)>);

impl ErrnoGuard {
    pub fn new() -> ErrnoGuard {
        // SAFETY: the slot is this thread's errno, valid for the thread's life.
        ErrnoGuard(errno_slot().map(|slot| (slot, unsafe { *slot })))
    }
}

impl Drop for ErrnoGuard {
    fn drop(&mut self) {
        if let Some((slot, value)) = self.0 {
            // SAFETY: as above; the guard never leaves its thread.
            unsafe { *slot = value };
        }
    }
}

/// Wall-clock time in nanoseconds since the epoch.
pub fn now_ns() -> u64 {
    syscall::realtime_ns()
}

pub fn getpid() -> u32 {
    syscall::getpid()
}

/// Fills `buf` with random bytes; falls back to time and addresses.
pub fn random(buf: &mut [u8]) {
    if syscall::getrandom(buf) == buf.len() as isize {
        return;
    }
    let mut x = now_ns() ^ (u64::from(getpid()) << 32) ^ (buf.as_ptr() as u64);
    for b in buf.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
}

/// An open directory descriptor, closed on drop.
pub struct Dir(pub i32);

impl Drop for Dir {
    fn drop(&mut self) {
        syscall::close(self.0);
    }
}

/// A NUL-terminated path built in a fixed buffer.
pub struct CPath {
    buf: [u8; 1024],
    len: usize,
    ok: bool,
}

impl CPath {
    pub fn new() -> CPath {
        CPath {
            buf: [0; 1024],
            len: 0,
            ok: true,
        }
    }
    pub fn push(&mut self, b: &[u8]) -> &mut CPath {
        if b.contains(&0) || self.len + b.len() >= self.buf.len() {
            self.ok = false;
        } else {
            self.buf[self.len..self.len + b.len()].copy_from_slice(b);
            self.len += b.len();
        }
        self
    }
    /// The bytes pushed so far (without a NUL).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    /// `dir/` followed by `parts`, for a configured directory.
    pub fn in_dir(dir: &[u8], parts: &[&[u8]]) -> CPath {
        let mut p = CPath::new();
        p.push(dir).push(b"/");
        for part in parts {
            p.push(part);
        }
        p
    }
    /// The C string, or `None` if something did not fit.
    pub fn as_ptr(&mut self) -> Option<*const c_char> {
        if !self.ok {
            return None;
        }
        self.buf[self.len] = 0;
        Some(self.buf.as_ptr() as *const c_char)
    }
}

/// Reads a whole small file into `buf`; returns the bytes read.
pub fn read_file(path: *const c_char, buf: &mut [u8]) -> Option<&[u8]> {
    // SAFETY: path is NUL-terminated (callers build it with CPath or InlinePath).
    let fd = unsafe { syscall::open(path, libc::O_RDONLY | libc::O_CLOEXEC, 0) };
    if fd < 0 {
        return None;
    }
    let mut len = 0;
    while len < buf.len() {
        // SAFETY: writes stay within buf[len..].
        let n = unsafe { syscall::read(fd, buf[len..].as_mut_ptr(), buf.len() - len) };
        if n == -(libc::EINTR as isize) {
            continue;
        }
        if n <= 0 {
            break;
        }
        len += n as usize;
    }
    syscall::close(fd);
    Some(&buf[..len])
}

/// Writes all of `data` to `fd`.
pub fn write_all(fd: libc::c_int, mut data: &[u8]) -> bool {
    while !data.is_empty() {
        // SAFETY: data is a valid readable slice.
        let n = unsafe { syscall::write(fd, data.as_ptr(), data.len()) };
        if n == -(libc::EINTR as isize) {
            continue;
        }
        if n <= 0 {
            return false;
        }
        data = &data[n as usize..];
    }
    true
}

/// The bytes of a C string (empty for a null pointer).
///
/// # Safety
/// `p` is null or points to a NUL-terminated string that stays valid and
/// unchanged for `'a`.
pub unsafe fn cstr<'a>(p: *const c_char) -> &'a [u8] {
    if p.is_null() {
        return &[];
    }
    // SAFETY: the caller's contract.
    unsafe { core::ffi::CStr::from_ptr(p).to_bytes() }
}

/// Start time of this process in clock ticks since boot (`/proc/self/stat` field 22).
pub fn proc_start_ticks() -> u64 {
    let mut buf = [0u8; 1024];
    let Some(stat) = read_file(c"/proc/self/stat".as_ptr(), &mut buf) else {
        return 0;
    };
    pyusage_record::proc_stat::start_ticks(stat).unwrap_or(0)
}

pub use pyusage_record::json::decimal;
