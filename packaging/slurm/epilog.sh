#!/bin/bash
# Slurm Epilog for pyusage (installed as @PREFIX@/share/pyusage/slurm-epilog.sh;
# slurm.conf: Epilog=@PREFIX@/share/pyusage/slurm-epilog.sh, or call it from
# the site's epilog). After each job on a node, ship the records that killed
# processes (time limit, OOM, scancel) left on node-local tmpfs, as `vanished`.
# Never fails the epilog: a node must not drain because of accounting.
pyusage=@PREFIX@/bin/pyusage
config=@SYSCONFDIR@/pyusage/config.toml
log=@LOCALSTATEDIR@/log/pyusage-sweep.log
[ -f "$config" ] && export PYUSAGE_CONFIG=$config
{ [ -w "$log" ] || touch "$log"; } 2>/dev/null || log=/dev/null
"$pyusage" sweep >/dev/null 2>>"$log" || true
exit 0
