//! Raw Linux system calls, without going through libc.
//!
//! Every libc function the library imports costs every process on the machine
//! a symbol lookup at load time (Rust calls them through the GOT, so they are
//! bound eagerly, lazy binding or not), although only Python processes ever
//! call them. Making the few system calls directly keeps the import list to
//! the loader's own functions. It also means these calls never touch `errno`
//! and are async-signal-safe by construction.
//!
//! Each wrapper returns the kernel's result: a non-negative value, or `-errno`.

use core::arch::asm;
use core::ffi::{c_char, c_int, c_long};

#[cfg(target_arch = "x86_64")]
unsafe fn raw6(n: c_long, a: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the Linux x86_64 syscall ABI: number in rax, arguments in rdi,
    // rsi, rdx, r10, r8, r9; rcx and r11 are clobbered. The caller guarantees
    // the arguments are valid for the call.
    unsafe {
        asm!("syscall", inlateout("rax") n as isize => ret, in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
             in("r10") a[3], in("r8") a[4], in("r9") a[5], lateout("rcx") _, lateout("r11") _,
             options(nostack));
    }
    ret
}

#[cfg(target_arch = "aarch64")]
unsafe fn raw6(n: c_long, a: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the Linux aarch64 syscall ABI: number in x8, arguments in x0-x5,
    // result in x0. The caller guarantees the arguments are valid for the call.
    unsafe {
        asm!("svc 0", in("x8") n, inlateout("x0") a[0] => ret, in("x1") a[1], in("x2") a[2],
             in("x3") a[3], in("x4") a[4], in("x5") a[5], options(nostack));
    }
    ret
}

macro_rules! sys {
    ($n:expr $(, $a:expr)*) => {{
        let mut args = [0usize; 6];
        let given = [$($a as usize),*];
        args[..given.len()].copy_from_slice(&given);
        // SAFETY: forwarded from the wrapper's own contract.
        unsafe { raw6($n as c_long, args) }
    }};
}

const AT_FDCWD: isize = -100;

/// `openat(AT_FDCWD, path, flags, mode)`.
///
/// # Safety
/// `path` is NUL-terminated.
pub unsafe fn open(path: *const c_char, flags: c_int, mode: u32) -> c_int {
    sys!(libc::SYS_openat, AT_FDCWD, path, flags, mode) as c_int
}

pub fn close(fd: c_int) -> c_int {
    sys!(libc::SYS_close, fd) as c_int
}

/// # Safety
/// `buf` is valid for `len` bytes of writing.
pub unsafe fn read(fd: c_int, buf: *mut u8, len: usize) -> isize {
    sys!(libc::SYS_read, fd, buf, len)
}

/// # Safety
/// `buf` is valid for `len` bytes of reading.
pub unsafe fn write(fd: c_int, buf: *const u8, len: usize) -> isize {
    sys!(libc::SYS_write, fd, buf, len)
}

/// What identifies a file's contents without reading them: inode, size and
/// modification time (seconds, nanoseconds). Equal before and after a read
/// means nobody wrote to it in between.
pub fn file_version(fd: c_int) -> Option<(u64, i64, i64, i64)> {
    // SAFETY: st is a valid out-buffer of the kernel's struct stat size.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    let r = sys!(libc::SYS_fstat, fd, &mut st as *mut libc::stat);
    (r >= 0).then_some((
        st.st_ino as u64,
        st.st_size as i64,
        st.st_mtime as i64,
        st.st_mtime_nsec as i64,
    ))
}

/// True if the file open as `fd` has the immutable attribute (`chattr +i`):
/// then nobody, root included, can write, truncate or replace it in place.
pub fn is_immutable(fd: c_int) -> bool {
    const FS_IOC_GETFLAGS: usize = 0x8008_6601;
    const FS_IMMUTABLE_FL: u64 = 0x10;
    // The kernel stores an int; a zeroed long-sized buffer holds it either way.
    let mut flags: u64 = 0;
    let r = sys!(libc::SYS_ioctl, fd, FS_IOC_GETFLAGS, &mut flags as *mut u64);
    r == 0 && flags & FS_IMMUTABLE_FL != 0
}

/// `pread` of up to `len` bytes at `offset`.
///
/// # Safety
/// `buf` is valid for `len` bytes of writes.
pub unsafe fn pread(fd: c_int, buf: *mut u8, len: usize, offset: u64) -> isize {
    sys!(libc::SYS_pread64, fd, buf, len, offset)
}

/// `mmap`; `Err(-errno)` on failure.
///
/// # Safety
/// As for mmap(2): a fixed address is never requested here.
pub unsafe fn mmap(len: usize, prot: c_int, flags: c_int, fd: c_int) -> Result<*mut u8, isize> {
    let r = sys!(libc::SYS_mmap, 0usize, len, prot, flags, fd, 0usize);
    if (-4095..0).contains(&r) {
        Err(r)
    } else {
        Ok(r as *mut u8)
    }
}

/// # Safety
/// `[addr, addr + len)` is a mapping nothing refers to any more.
pub unsafe fn munmap(addr: *mut u8, len: usize) -> c_int {
    sys!(libc::SYS_munmap, addr, len) as c_int
}

/// Reserves `[0, len)` of the file (`posix_fallocate` without glibc's
/// zero-writing fallback, which a tmpfs never needs).
pub fn fallocate(fd: c_int, len: i64) -> c_int {
    sys!(libc::SYS_fallocate, fd, 0, 0, len) as c_int
}

/// # Safety
/// `path` is NUL-terminated.
pub unsafe fn unlink(path: *const c_char) -> c_int {
    sys!(libc::SYS_unlinkat, AT_FDCWD, path, 0) as c_int
}

/// `openat(dir, name, flags, mode)`, relative to an open directory.
///
/// # Safety
/// `name` is NUL-terminated.
pub unsafe fn openat(dir: c_int, name: *const c_char, flags: c_int, mode: u32) -> c_int {
    sys!(libc::SYS_openat, dir, name, flags, mode) as c_int
}

/// `fstat`: owner and mode of what `fd` is open on, or `-errno`.
pub fn owner_and_mode(fd: c_int) -> Result<(u32, u32), c_int> {
    // SAFETY: st is a valid out-buffer of the kernel's struct stat size.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    let r = sys!(libc::SYS_fstat, fd, &mut st as *mut libc::stat);
    if r < 0 {
        Err(r as c_int)
    } else {
        Ok((st.st_uid, st.st_mode))
    }
}

/// `linkat` within one open directory; never follows a symlink.
///
/// # Safety
/// Both names are NUL-terminated.
pub unsafe fn linkat(dir: c_int, old: *const c_char, new: *const c_char) -> c_int {
    sys!(libc::SYS_linkat, dir, old, dir, new, 0) as c_int
}

/// `renameat` within one open directory.
///
/// # Safety
/// Both names are NUL-terminated.
pub unsafe fn renameat(dir: c_int, old: *const c_char, new: *const c_char) -> c_int {
    sys!(libc::SYS_renameat, dir, old, dir, new) as c_int
}

/// `unlinkat(dir, name, 0)`.
///
/// # Safety
/// `name` is NUL-terminated.
pub unsafe fn unlinkat(dir: c_int, name: *const c_char) -> c_int {
    sys!(libc::SYS_unlinkat, dir, name, 0) as c_int
}

/// `socket(domain, type, 0)`.
pub fn socket(domain: c_int, kind: c_int) -> c_int {
    sys!(libc::SYS_socket, domain, kind, 0) as c_int
}

/// # Safety
/// `addr` points to `len` bytes of a socket address.
pub unsafe fn connect(fd: c_int, addr: *const u8, len: u32) -> c_int {
    sys!(libc::SYS_connect, fd, addr, len) as c_int
}

/// `sendto(fd, buf, len, flags, NULL, 0)` on a connected socket.
pub fn send(fd: c_int, buf: &[u8], flags: c_int) -> isize {
    sys!(
        libc::SYS_sendto,
        fd,
        buf.as_ptr(),
        buf.len(),
        flags,
        0usize,
        0usize
    )
}

/// Waits up to `ms` milliseconds until `fd` is writable; true if it is.
pub fn wait_writable(fd: c_int, ms: c_int) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    let r = sys!(
        libc::SYS_ppoll,
        &mut p as *mut libc::pollfd,
        1,
        &libc::timespec {
            tv_sec: 0,
            tv_nsec: i64::from(ms) * 1_000_000,
        } as *const libc::timespec,
        0usize,
        0usize
    );
    r == 1 && p.revents & libc::POLLOUT != 0 && p.revents & (libc::POLLERR | libc::POLLHUP) == 0
}

/// # Safety
/// `path` is NUL-terminated.
pub unsafe fn mkdir(path: *const c_char, mode: u32) -> c_int {
    sys!(libc::SYS_mkdirat, AT_FDCWD, path, mode) as c_int
}

/// # Safety
/// `path` is NUL-terminated.
pub unsafe fn chmod(path: *const c_char, mode: u32) -> c_int {
    sys!(libc::SYS_fchmodat, AT_FDCWD, path, mode, 0) as c_int
}

/// # Safety
/// `path` is NUL-terminated; `buf` is valid for `len` bytes.
pub unsafe fn readlink(path: *const c_char, buf: *mut u8, len: usize) -> isize {
    sys!(libc::SYS_readlinkat, AT_FDCWD, path, buf, len)
}

pub fn uname(uts: &mut libc::utsname) -> c_int {
    sys!(libc::SYS_uname, uts as *mut libc::utsname) as c_int
}

pub fn getpid() -> u32 {
    sys!(libc::SYS_getpid) as u32
}

/// The calling thread's id.
pub fn gettid() -> u32 {
    sys!(libc::SYS_gettid) as u32
}

pub fn getppid() -> u32 {
    sys!(libc::SYS_getppid) as u32
}

pub fn getuid() -> u32 {
    sys!(libc::SYS_getuid) as u32
}

/// Fills `buf` from the kernel's random pool without blocking; bytes written or `-errno`.
pub fn getrandom(buf: &mut [u8]) -> isize {
    sys!(
        libc::SYS_getrandom,
        buf.as_mut_ptr(),
        buf.len(),
        libc::GRND_NONBLOCK
    )
}

/// `CLOCK_REALTIME` in nanoseconds since the epoch.
pub fn realtime_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    sys!(
        libc::SYS_clock_gettime,
        libc::CLOCK_REALTIME,
        &mut ts as *mut libc::timespec
    );
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// Ends the process (all threads) with `status`.
pub fn exit_group(status: c_int) -> ! {
    loop {
        sys!(libc::SYS_exit_group, status);
    }
}

/// Ends the process the way `abort` does, without libc: SIGABRT to ourselves.
#[cfg_attr(test, allow(dead_code))] // only the panic handler calls it, and tests have none
pub fn abort() -> ! {
    let pid = getpid();
    sys!(libc::SYS_kill, pid, libc::SIGABRT);
    exit_group(134)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_mappings() {
        // SAFETY: a NUL-terminated literal path.
        let fd = unsafe {
            open(
                c"/proc/self/exe".as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
                0,
            )
        };
        assert!(fd >= 0, "open: {fd}");
        let (_, size, _, _) = file_version(fd).expect("fstat");
        assert!(size > 1000, "size {size}");
        assert!(!is_immutable(fd));
        let mut head = [0u8; 4];
        // SAFETY: head is 4 writable bytes.
        assert_eq!(unsafe { pread(fd, head.as_mut_ptr(), 4, 0) }, 4);
        assert_eq!(&head, b"\x7fELF");
        // SAFETY: an open descriptor and the file's own size.
        let map =
            unsafe { mmap(size as usize, libc::PROT_READ, libc::MAP_PRIVATE, fd) }.expect("mmap");
        // SAFETY: the mapping is `size` (> 1000) bytes long and readable.
        let magic = unsafe { core::slice::from_raw_parts(map, 4) };
        assert_eq!(magic, b"\x7fELF");
        // SAFETY: the mapping made above, unmapped once; `magic` is not used after.
        assert_eq!(unsafe { munmap(map, size as usize) }, 0);
        assert_eq!(close(fd), 0);
        assert_eq!(close(fd), -(libc::EBADF));
        assert_eq!(getpid(), std::process::id());
        let mut buf = [0u8; 16];
        assert_eq!(getrandom(&mut buf), 16);
    }
}
