#!/usr/bin/env bash
# Slurm Epilog (slurm.conf: Epilog=/etc/slurm/epilog.d/pyusage.sh): after each
# job on a node, ship the records that killed processes (walltime, OOM, scancel)
# left on node-local tmpfs. Never fails the epilog: a node must not drain
# because of accounting.
/opt/pyusage/bin/pyusage sweep >/dev/null 2>>/var/log/pyusage-sweep.log || true
exit 0
