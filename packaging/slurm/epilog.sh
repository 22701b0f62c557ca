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
# The job's processes were signalled, but one whose parent died first is no
# longer tracked by Slurm and may still be exiting when the epilog starts: a
# sweep skips it as running. So sweep again, briefly, while any record is
# still running (on a node shared with other jobs, theirs are too: 3 tries).
for try in 1 2 3; do
  summary=$("$pyusage" sweep 2>>"$log") || true
  case $summary in *" 0 still running"*) break ;; esac
  [ "$try" = 3 ] || sleep 1
done
exit 0
