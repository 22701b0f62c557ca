//! Link options for the preloaded library.
fn main() {
    // Bind libc symbols lazily, on first call. Rust links with `-z now` by
    // default, which makes the dynamic loader resolve every imported symbol
    // when the library is loaded: in every process on the machine, although
    // only Python processes ever call them. Measured with callgrind on
    // /bin/true, that was most of the library's load cost.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,lazy");
}
