//! The tracer library against this system's glibc: a library that needs a
//! newer symbol version than the system has stops every program from
//! starting, so this is checked before `LD_PRELOAD` names it.

use super::{Check, Ctx};
use object::read::elf::{ElfFile64, FileHeader};
use object::Endianness;
use std::path::Path;

/// A `GLIBC_2.17` version as `(2, 17)`.
fn parse_version(v: &str) -> Option<(u32, u32)> {
    let mut it = v.split('.');
    let major = it.next()?.parse().ok()?;
    let minor = it.next().map_or(Some(0), |m| m.parse().ok())?;
    Some((major, minor))
}

/// The newest `GLIBC_x.y` version the ELF file at `path` requires.
pub fn newest_glibc_needed(path: &Path) -> Result<Option<(u32, u32)>, String> {
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let elf = ElfFile64::<Endianness>::parse(&*data)
        .map_err(|e| format!("{}: not a 64-bit ELF file: {e}", path.display()))?;
    let endian = elf.endian();
    let sections = elf
        .elf_header()
        .sections(endian, &*data)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut newest = None;
    if let Some((mut needs, link)) = sections
        .gnu_verneed(endian, &*data)
        .map_err(|e| format!("{}: {e}", path.display()))?
    {
        let strings = sections
            .strings(endian, &*data, link)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        while let Ok(Some((_, mut aux))) = needs.next() {
            while let Ok(Some(a)) = aux.next() {
                let Ok(name) = a.name(endian, strings) else {
                    continue;
                };
                let name = String::from_utf8_lossy(name);
                if let Some(v) = name.strip_prefix("GLIBC_").and_then(parse_version) {
                    newest = newest.max(Some(v));
                }
            }
        }
    }
    Ok(newest)
}

/// This system's glibc version.
fn system_glibc() -> Option<(u32, u32)> {
    // SAFETY: gnu_get_libc_version returns a static NUL-terminated string.
    let v = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
    parse_version(v.to_str().ok()?)
}

/// The library check.
pub fn library(ctx: &Ctx) -> Check {
    const NAME: &str = "library";
    let lib = match crate::run::find_library(ctx.lib.clone()) {
        Ok(l) => l,
        Err(e) => return Check::fail(NAME, format!("{e:#}")),
    };
    let Some(have) = system_glibc() else {
        return Check::warn(
            NAME,
            format!("{}: cannot tell this system's glibc version", lib.display()),
        );
    };
    match newest_glibc_needed(&lib) {
        Err(why) => Check::fail(NAME, why),
        Ok(Some(need)) if need > have => Check::fail(
            NAME,
            format!(
                "{}: needs GLIBC_{}.{}, this system has {}.{}: every program would fail to start \
                 with it preloaded (build with `make install`, which targets glibc 2.17)",
                lib.display(),
                need.0,
                need.1,
                have.0,
                have.1
            ),
        ),
        Ok(need) => Check::ok(
            NAME,
            format!(
                "{}: needs glibc {}, this system has {}.{}",
                lib.display(),
                need.map_or("nothing".to_string(), |(a, b)| format!("{a}.{b} at most")),
                have.0,
                have.1
            ),
        ),
    }
}
