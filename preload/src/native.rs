//! Native libraries loaded in the process, found with `dl_iterate_phdr`.
//!
//! Extension modules pull in CUDA, MPI and BLAS libraries with their own
//! `dlopen` calls, which the tracer deliberately does not interpose. Instead
//! it walks the loaded objects after each import that changed the set (the
//! loader's `dlpi_adds` counter tells) and once more when the process ends.

use crate::elf::{dl_iterate_phdr, DlPhdrInfo};
use crate::tracker;
use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicU64, Ordering};
use pyusage_record::raw;

/// Loader's `adds` counter at the last walk.
static LAST_ADDS: AtomicU64 = AtomicU64::new(0);

unsafe extern "C" fn visit(info: *mut DlPhdrInfo, size: usize, data: *mut c_void) -> c_int {
    // SAFETY: glibc passes a valid info of `size` bytes for the duration of the call.
    let info = unsafe { &*info };
    let incremental = !data.is_null();
    if incremental && size >= core::mem::size_of::<DlPhdrInfo>() {
        // The counter is the same in every callback of one walk: look at it once.
        // SAFETY: data points to the walk's "first object" flag below.
        let first = unsafe { &mut *(data as *mut bool) };
        if *first {
            *first = false;
            if LAST_ADDS.swap(info.adds, Ordering::Relaxed) == info.adds {
                return 1; // nothing new since the last walk
            }
        }
    }
    // SAFETY: the object's name, valid for the duration of the callback.
    let path = unsafe { crate::sys::cstr(info.name) };
    if path.first() == Some(&b'/') {
        note(path);
    }
    0
}

fn note(path: &[u8]) {
    let file = path.rsplit(|&c| c == b'/').next().unwrap_or(path);
    if let Some(kind) = raw::native::classify(file) {
        if crate::seen::first_hash(crate::seen::hash(b'n', path)) {
            tracker::append(raw::tag::NATIVE, &[&[kind], file]);
        }
    }
    tracker::note_library(path);
}

/// Records libraries loaded since the last walk (cheap when nothing changed).
pub fn scan_new() {
    let mut first = true;
    // SAFETY: `visit` matches the callback signature and only reads `info`.
    unsafe { dl_iterate_phdr(visit, &mut first as *mut bool as *mut c_void) };
}

/// Records every loaded library (at exit).
pub fn scan_all() {
    // SAFETY: as above; a null data pointer asks for a full walk.
    unsafe { dl_iterate_phdr(visit, core::ptr::null_mut()) };
}
