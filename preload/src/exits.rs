//! Every way a process ends, and `fork`.
//!
//! - `exit()` (return from `main`, `sys.exit`, uncaught exceptions): an
//!   `on_exit` handler, which glibc passes the exit status.
//! - `_exit()` (`os._exit`, every forked multiprocessing worker): this library
//!   exports `_exit`, finishes the record, then calls the next `_exit`.
//! - `exec`: the audit hook's `os.exec` event ([`crate::hook`]).
//! - signals, `SIGKILL`, the OOM killer: nothing runs; the raw record stays on
//!   tmpfs and `pyusage sweep` ships it.
//! - `fork`: `pthread_atfork` handlers count the child in the parent's record
//!   and give the child a fresh state. `vfork` runs no handlers, and a vfork
//!   child shares our memory: it is recognised by its pid and left alone.

use crate::globals;
use crate::tracker;
use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicPtr, Ordering};
use pyusage_record::raw::Ending;

type OnExit = unsafe extern "C" fn(extern "C" fn(c_int, *mut c_void), *mut c_void) -> c_int;
type RegisterAtfork = unsafe extern "C" fn(
    Option<extern "C" fn()>,
    Option<extern "C" fn()>,
    Option<extern "C" fn()>,
    *mut c_void,
) -> c_int;

/// The `_exit` that our interposer forwards to.
static NEXT_EXIT: AtomicPtr<c_void> = AtomicPtr::new(core::ptr::null_mut());

/// True when running in the process the tracer state belongs to (not in a
/// vfork child or a raw `clone`, which share or copy memory without running
/// the fork handlers).
fn own_process() -> bool {
    crate::sys::getpid() == globals::get().pid
}

/// Whether a process without an audit hook gets a record at its end.
fn record_at_end() -> bool {
    let g = globals::get();
    if g.hooked || g.forked_from != 0 {
        return false;
    }
    // Embedding programs (gdb, vim) count only if they ever started Python.
    // SAFETY: Py_IsInitialized may be called at any time.
    g.looks_like_python
        || g.api
            .and_then(|a| a.is_initialized)
            .is_some_and(|f| unsafe { f() } != 0)
}

extern "C" fn at_exit(status: c_int, _arg: *mut c_void) {
    if globals::active() && own_process() {
        tracker::finish(Ending::Exit, status, record_at_end());
    }
}

/// Interposes `_exit` (exported under that name from the cdylib).
#[no_mangle]
pub extern "C" fn _exit(status: c_int) -> ! {
    if globals::active() && own_process() {
        tracker::finish(Ending::UnderscoreExit, status, record_at_end());
    }
    let mut next = NEXT_EXIT.load(Ordering::Relaxed);
    if next.is_null() {
        next = resolve_next_exit();
    }
    if !next.is_null() {
        // SAFETY: `next` is the next object's `_exit`, which never returns.
        let next: extern "C" fn(c_int) -> ! = unsafe { core::mem::transmute(next) };
        next(status);
    }
    crate::syscall::exit_group(status)
}

/// The `_exit` of the objects loaded after this library, as `RTLD_NEXT` would
/// find it (so another interposer, or libc, gets the call).
fn resolve_next_exit() -> *mut c_void {
    let p = crate::elf::find(
        c"_exit",
        crate::elf::Scope::After(_exit as *const () as usize),
    )
    .map_or(core::ptr::null_mut(), |p| p as *mut c_void);
    NEXT_EXIT.store(p, Ordering::Relaxed);
    p
}

extern "C" fn after_fork_parent() {
    if globals::active() {
        tracker::count_fork();
    }
}

extern "C" fn after_fork_child() {
    if !globals::active() {
        return;
    }
    // SAFETY: the fork child has exactly one thread, this one.
    let g = unsafe { globals::get_mut() };
    g.forked_from = g.pid;
    g.pid = crate::sys::getpid();
    // Another thread of the parent may have been inside the audit hook,
    // holding a slot, when the fork was taken: free them all.
    crate::lastopen::reset_after_fork();
    crate::stdlib::reset_after_fork();
    tracker::forget_inherited(); // and the tracker's own slots
}

/// Registers the exit and fork handlers (constructor only).
pub fn install() -> bool {
    resolve_next_exit();
    let libc = crate::elf::Scope::Object(b"libc.so");
    let (Some(on_exit), Some(atfork)) = (
        crate::elf::find(c"on_exit", libc),
        crate::elf::find(c"__register_atfork", libc),
    ) else {
        return false;
    };
    // SAFETY: glibc's on_exit and __register_atfork (what pthread_atfork calls)
    // with their C signatures. The handlers are plain functions that live as
    // long as the library, which is never unloaded (it is preloaded), so no
    // DSO handle is passed.
    unsafe {
        let on_exit: OnExit = core::mem::transmute(on_exit);
        let atfork: RegisterAtfork = core::mem::transmute(atfork);
        on_exit(at_exit, core::ptr::null_mut()) == 0
            && atfork(
                None,
                Some(after_fork_parent),
                Some(after_fork_child),
                core::ptr::null_mut(),
            ) == 0
    }
}
