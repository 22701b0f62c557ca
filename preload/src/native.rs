//! Native libraries loaded in the process, found with `dl_iterate_phdr`.
//!
//! Extension modules pull in CUDA, MPI and BLAS libraries with their own
//! `dlopen` calls, which the tracer deliberately does not interpose. Instead
//! it walks the loaded objects after each import that changed the set (the
//! loader's `dlpi_adds` counter tells) and once more when the process ends.
//! What a library means for the record is the caller's business
//! ([`crate::tracker`]): this module only walks.

use crate::elf::{dl_iterate_phdr, DlPhdrInfo};
use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicU64, Ordering};

/// Loader's `adds` counter at the last walk.
static LAST_ADDS: AtomicU64 = AtomicU64::new(0);

/// One walk: what to do with each library's path, and whether to stop at
/// once when nothing was loaded since the last incremental walk.
struct Walk {
    note: fn(&[u8]),
    incremental: bool,
    first: bool,
}

unsafe extern "C" fn visit(info: *mut DlPhdrInfo, size: usize, data: *mut c_void) -> c_int {
    // SAFETY: glibc passes a valid info of `size` bytes for the duration of
    // the call; data is the walk's `Walk` below, live for the whole walk.
    let (info, walk) = unsafe { (&*info, &mut *(data as *mut Walk)) };
    if walk.incremental && size >= core::mem::size_of::<DlPhdrInfo>() {
        // The counter is the same in every callback of one walk: look at it once.
        if walk.first {
            walk.first = false;
            if LAST_ADDS.swap(info.adds, Ordering::Relaxed) == info.adds {
                return 1; // nothing new since the last walk
            }
        }
    }
    // SAFETY: the object's name, valid for the duration of the callback.
    let path = unsafe { crate::sys::cstr(info.name) };
    if path.first() == Some(&b'/') {
        (walk.note)(path);
    }
    0
}

fn walk(note: fn(&[u8]), incremental: bool) {
    let mut walk = Walk {
        note,
        incremental,
        first: true,
    };
    // SAFETY: `visit` matches the callback signature, only reads `info`, and
    // gets the `Walk` that lives until the walk returns.
    unsafe { dl_iterate_phdr(visit, &mut walk as *mut Walk as *mut c_void) };
}

/// Calls `note` with the path of each library loaded since the last walk
/// (cheap when nothing changed).
pub fn scan_new(note: fn(&[u8])) {
    walk(note, true);
}

/// Calls `note` with the path of every loaded library (at exit).
pub fn scan_all(note: fn(&[u8])) {
    walk(note, false);
}
