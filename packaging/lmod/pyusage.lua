-- Lmod modulefile for pyusage @VERSION@ (installed by `make install` as
-- @PREFIX@/share/modulefiles/pyusage/@VERSION@.lua, prefix filled in).
-- Load it for every user, e.g. as a sticky module from the site's StdEnv
-- (README, Deployment), so that every process preloads the tracer.
-- Turning tracing off for a whole system is done in
-- @SYSCONFDIR@/pyusage/config.toml (enabled = false), not here: no modulefile
-- edit, no rebuild.
whatis("Name: pyusage")
whatis("Version: @VERSION@")
whatis("Description: records which Python packages (and versions) users run")
help([[
pyusage preloads libpyusage.so into every process. In Python processes it
records the distributions used; elsewhere it does nothing. Opt out for one
command with PYUSAGE_DISABLE=1 (if the site allows it).
]])

local prefix = "@PREFIX@"
-- prepend_path keeps the user's own LD_PRELOAD entries (colon- or
-- space-separated) and its reference count (__LMOD_REF_COUNT_LD_PRELOAD) makes
-- unload remove only our entry, in any order of loads and unloads.
prepend_path("LD_PRELOAD", pathJoin(prefix, "lib/pyusage/libpyusage.so"))
prepend_path("PATH", pathJoin(prefix, "bin"))
