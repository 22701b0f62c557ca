# Spack recipe for pyusage. Copy this directory into a Spack repository as
# packages/pyusage/package.py (`spack repo create`, then `spack install pyusage`).
#
# Spack installs into its own prefix, so the system config the tracer reads is
# <prefix>/etc/pyusage/config.toml (compiled in), the spool and the map live
# under <prefix>/var, and the modulefile under <prefix>/share/modulefiles
# (or let Spack generate its own module: the tracer only needs LD_PRELOAD).

from spack.package import *


class Pyusage(MakefilePackage):
    """Records which Python packages (and versions) the users of an HPC
    system run: an LD_PRELOAD tracer (libpyusage.so) loaded by a module, and
    the pyusage command that maps, sweeps and checks."""

    homepage = "https://example.org/pyusage"
    git = "https://example.org/pyusage.git"

    license("MIT OR Apache-2.0")

    version("main", branch="main")

    variant(
        "zig",
        default=True,
        description="Link the library against glibc 2.17 symbol versions with "
        "cargo-zigbuild (installs ziglang from the Python package index at build time)",
    )

    depends_on("rust@1.80:", type="build")
    depends_on("gmake", type="build")
    depends_on("python@3.8:", type="build", when="+zig")

    def _layout(self, spec, prefix):
        return [
            "ZIG={0}".format(1 if spec.satisfies("+zig") else 0),
            "PREFIX={0}".format(prefix),
            "SYSCONFDIR={0}".format(join_path(prefix, "etc")),
            "LOCALSTATEDIR={0}".format(join_path(prefix, "var")),
        ]

    def build(self, spec, prefix):
        make("dist", *self._layout(spec, prefix))

    def install(self, spec, prefix):
        make("install", "NO_BUILD=1", *self._layout(spec, prefix))

    def setup_run_environment(self, env):
        env.prepend_path("LD_PRELOAD", join_path(self.prefix, "lib", "pyusage", "libpyusage.so"))
