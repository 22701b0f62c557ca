//! Symbol lookup in the loaded objects' own GNU hash tables.
//!
//! Every process on the machine runs the constructor, so the check "is this
//! CPython?" must cost next to nothing. `dlsym` is not that: for a missing
//! symbol glibc formats an error message, allocating with `malloc` in a program
//! that may never have called it, and the program's next `dlerror()` would see
//! it. Walking the loaded objects with `dl_iterate_phdr` and asking each one's
//! `DT_GNU_HASH` bloom filter rejects a missing name in a few dozen
//! instructions per object, touches no allocator, and leaves no error behind.
//!
//! The same lookup finds the few libc functions the tracer needs in a Python
//! process, so the library imports almost nothing: every import would be a
//! symbol the loader resolves at start-up in every process.

use core::ffi::{c_char, c_int, c_void, CStr};

/// `Elf64_Phdr`.
#[repr(C)]
struct Phdr {
    p_type: u32,
    p_flags: u32,
    p_offset: u64,
    p_vaddr: u64,
    p_paddr: u64,
    p_filesz: u64,
    p_memsz: u64,
    p_align: u64,
}

/// `Elf64_Sym`.
#[repr(C)]
struct Sym {
    st_name: u32,
    st_info: u8,
    st_other: u8,
    st_shndx: u16,
    st_value: u64,
    st_size: u64,
}

/// glibc's `struct dl_phdr_info`, up to the fields used here.
#[repr(C)]
pub struct DlPhdrInfo {
    pub addr: usize,
    pub name: *const c_char,
    phdr: *const Phdr,
    phnum: u16,
    pub adds: u64,
    pub subs: u64,
}

extern "C" {
    /// The one libc function imported directly: everything else is found through it.
    pub fn dl_iterate_phdr(
        callback: unsafe extern "C" fn(*mut DlPhdrInfo, usize, *mut c_void) -> c_int,
        data: *mut c_void,
    ) -> c_int;
}

const PT_DYNAMIC: u32 = 2;
const DT_NULL: i64 = 0;
const DT_STRTAB: i64 = 5;
const DT_SYMTAB: i64 = 6;
const DT_GNU_HASH: i64 = 0x6fff_fef5;
const SHN_UNDEF: u16 = 0;
const STT_FUNC: u8 = 2;
const STT_OBJECT: u8 = 1;
const STT_GNU_IFUNC: u8 = 10;

/// The GNU hash function (`dl_new_hash`).
fn gnu_hash(name: &[u8]) -> u32 {
    name.iter().fold(5381u32, |h, &c| {
        h.wrapping_mul(33).wrapping_add(u32::from(c))
    })
}

/// Which loaded objects a lookup searches.
#[derive(Clone, Copy)]
pub enum Scope<'a> {
    /// All of them, in load order (the global scope of a program).
    All,
    /// Those whose file name contains this (e.g. `libc.so`).
    Object(&'a [u8]),
    /// Those loaded after the object containing this address (`RTLD_NEXT`).
    After(usize),
}

struct Query<'a> {
    name: &'a [u8],
    hash: u32,
    scope: Scope<'a>,
    found: *const c_void,
}

/// True if `addr` lies in one of the object's loaded segments.
///
/// # Safety
/// `info` describes a loaded object.
unsafe fn contains(info: &DlPhdrInfo, addr: usize) -> bool {
    const PT_LOAD: u32 = 1;
    (0..info.phnum as usize).any(|i| {
        // SAFETY: phdr has phnum entries.
        let ph = unsafe { &*info.phdr.add(i) };
        let start = info.addr + ph.p_vaddr as usize;
        ph.p_type == PT_LOAD && (start..start + ph.p_memsz as usize).contains(&addr)
    })
}

/// Finds the dynamic tables of one object. The loader rewrites most objects'
/// `DT_*` pointers to absolute addresses; the vDSO's stay relative.
///
/// # Safety
/// `info` describes a loaded object, as `dl_iterate_phdr` reports it.
unsafe fn tables(info: &DlPhdrInfo) -> Option<(*const u32, *const Sym, *const u8)> {
    let base = info.addr;
    let mut dynamic: *const [i64; 2] = core::ptr::null();
    for i in 0..info.phnum as usize {
        // SAFETY: phdr has phnum entries.
        let ph = unsafe { &*info.phdr.add(i) };
        if ph.p_type == PT_DYNAMIC {
            dynamic = (base + ph.p_vaddr as usize) as *const [i64; 2];
        }
    }
    if dynamic.is_null() {
        return None;
    }
    let (mut hash, mut symtab, mut strtab) = (0usize, 0usize, 0usize);
    let mut d = dynamic;
    // SAFETY: the dynamic section is a DT_NULL-terminated array of (tag, value).
    unsafe {
        while (*d)[0] != DT_NULL && (hash == 0 || symtab == 0 || strtab == 0) {
            let value = (*d)[1] as usize;
            match (*d)[0] {
                DT_GNU_HASH => hash = value,
                DT_SYMTAB => symtab = value,
                DT_STRTAB => strtab = value,
                _ => {}
            }
            d = d.add(1);
        }
    }
    if hash == 0 || symtab == 0 || strtab == 0 {
        return None; // no GNU hash table: such an object is not a Python
    }
    let fix = |p: usize| if p < base { p + base } else { p };
    Some((
        fix(hash) as *const u32,
        fix(symtab) as *const Sym,
        fix(strtab) as *const u8,
    ))
}

/// Looks `q.name` up in one object's GNU hash table.
///
/// # Safety
/// `info` describes a loaded object.
unsafe fn lookup_in(info: &DlPhdrInfo, q: &Query<'_>) -> *const c_void {
    // SAFETY: the tables belong to a loaded object and are laid out as the
    // GNU hash section format defines; indices come from the table itself.
    unsafe {
        let Some((table, symtab, strtab)) = tables(info) else {
            return core::ptr::null();
        };
        let nbuckets = *table;
        let symoffset = *table.add(1);
        let bloom_size = *table.add(2);
        let bloom_shift = *table.add(3);
        if nbuckets == 0 || bloom_size == 0 {
            return core::ptr::null();
        }
        let bloom = table.add(4) as *const u64;
        let word = *bloom.add(((q.hash / 64) % bloom_size) as usize);
        let mask = (1u64 << (q.hash % 64)) | (1u64 << ((q.hash >> bloom_shift) % 64));
        if word & mask != mask {
            return core::ptr::null();
        }
        let buckets = bloom.add(bloom_size as usize) as *const u32;
        let chain = buckets.add(nbuckets as usize);
        let mut index = *buckets.add((q.hash % nbuckets) as usize);
        if index < symoffset {
            return core::ptr::null();
        }
        loop {
            let h = *chain.add((index - symoffset) as usize);
            if (h | 1) == (q.hash | 1) {
                let sym = &*symtab.add(index as usize);
                let kind = sym.st_info & 0xf;
                let name =
                    CStr::from_ptr(strtab.add(sym.st_name as usize) as *const c_char).to_bytes();
                if name == q.name
                    && sym.st_shndx != SHN_UNDEF
                    && matches!(kind, STT_FUNC | STT_OBJECT | STT_GNU_IFUNC)
                {
                    if kind == STT_GNU_IFUNC {
                        return core::ptr::null(); // would need its resolver run; never ours
                    }
                    return (info.addr + sym.st_value as usize) as *const c_void;
                }
            }
            if h & 1 != 0 {
                return core::ptr::null();
            }
            index += 1;
        }
    }
}

unsafe extern "C" fn visit(info: *mut DlPhdrInfo, _size: usize, data: *mut c_void) -> c_int {
    // SAFETY: dl_iterate_phdr passes a valid info; data is our Query.
    let (info, q) = unsafe { (&*info, &mut *(data as *mut Query<'_>)) };
    match q.scope {
        Scope::All => {}
        Scope::Object(part) => {
            let file = if info.name.is_null() {
                &[][..]
            } else {
                // SAFETY: the object's name, NUL-terminated and valid for the
                // duration of the callback.
                unsafe { CStr::from_ptr(info.name) }.to_bytes()
            };
            if !file.windows(part.len()).any(|w| w == part) {
                return 0;
            }
        }
        Scope::After(addr) => {
            // SAFETY: info describes a loaded object.
            if unsafe { contains(info, addr) } {
                q.scope = Scope::All; // search the objects that follow
            }
            return 0;
        }
    }
    // SAFETY: info describes a loaded object.
    q.found = unsafe { lookup_in(info, q) };
    c_int::from(!q.found.is_null())
}

/// The address of the first definition of `name` among the loaded objects
/// of `scope`, in load order.
pub fn find(name: &CStr, scope: Scope<'_>) -> Option<*const c_void> {
    let name = name.to_bytes();
    let mut q = Query {
        name,
        hash: gnu_hash(name),
        scope,
        found: core::ptr::null(),
    };
    // SAFETY: visit matches the callback type and only reads loader data.
    unsafe { dl_iterate_phdr(visit, &mut q as *mut Query<'_> as *mut c_void) };
    (!q.found.is_null()).then_some(q.found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_libc_functions_and_rejects_missing_names() {
        assert!(find(c"on_exit", Scope::Object(b"libc.so")).is_some());
        assert!(find(c"Py_Initialize", Scope::All).is_none());
        assert!(find(c"no_such_symbol_anywhere", Scope::All).is_none());
        let own = finds_libc_functions_and_rejects_missing_names as *const () as usize;
        assert!(find(c"on_exit", Scope::After(own)).is_some());
        assert_eq!(gnu_hash(b""), 5381);
        assert_eq!(gnu_hash(b"printf"), 0x156b_2bb8);
    }
}
