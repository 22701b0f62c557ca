-- Lmod modulefile for pyusage. Load it by default for every user (e.g. from
-- the site's StdEnv) so that every process preloads the tracer.
-- Turning tracing off for a whole system is done in /etc/pyusage/config.toml
-- (enabled = false), not here: no modulefile edit, no rebuild.
whatis("pyusage: records which Python packages (and versions) users run")
help([[
pyusage preloads libpyusage.so into every process. In Python processes it
records the distributions used; elsewhere it does nothing. Opt out for one
command with PYUSAGE_DISABLE=1 (if the site allows it).
]])

local prefix = "/opt/pyusage"
-- LD_PRELOAD takes a colon- or space-separated list; Lmod keeps ours unique.
prepend_path("LD_PRELOAD", pathJoin(prefix, "lib/pyusage/libpyusage.so"))
prepend_path("PATH", pathJoin(prefix, "bin"))
