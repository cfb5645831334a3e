#!/usr/bin/env bash
# Install and start a single-node SLURM cluster on this machine (Debian/Ubuntu, as root),
# to try profiles/slurm locally; CI runs it before the test suite (tests/test_slurm.py).
#
# Without systemd or cgroups: munged runs as the munge user, slurmctld and
# `slurmd -N localhost` as root, with linuxproc process tracking and no task plugin. No
# accounting database: MinJobAge keeps finished jobs visible to `squeue` for an hour, which
# is what the profile's status checks use then (slurm-status-command: squeue).
# One fake GPU (gres on /dev/null) makes rules with `resources: gpu=1` schedulable.
# Idempotent: a running cluster is left as it is. Exit status 0 = `sinfo` shows the node up.
set -euo pipefail

log() { echo "single-node-cluster: $*" >&2; }

if [[ $(id -u) != 0 ]]; then
    log "needs root (installs Debian packages and starts daemons)"
    exit 1
fi
if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    log "SLURM is already up"
    exit 0
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    log "installing slurmctld slurmd slurm-client munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q slurmctld slurmd slurm-client munge >/dev/null ||
        { apt-get update -q >/dev/null && apt-get install -y -q slurmctld slurmd slurm-client munge >/dev/null; }
fi

# munge: one key, shared by the controller and the node daemon
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [[ ! -s /etc/munge/munge.key ]]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if ! pgrep -x munged >/dev/null; then
    runuser -u munge -- /usr/sbin/munged --force
fi

cpus=$(nproc)
# slurmd refuses to start when the node has less memory than RealMemory says
memory_mb=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512))
install -d /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat >/etc/slurm/slurm.conf <<CONF
ClusterName=harfuse
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# without a default, a job given --mem takes the whole node and jobs run one at a time
DefMemPerCPU=1000
# finished jobs stay visible to squeue (the status command without accounting)
MinJobAge=3600
ReturnToService=2
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${memory_mb} Gres=gpu:1 State=UNKNOWN
PartitionName=main Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
echo "NodeName=localhost Name=gpu File=/dev/null" >/etc/slurm/gres.conf

pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd -N localhost

for _ in $(seq 60); do
    state=$(sinfo -h -o %T 2>/dev/null || true)
    case "$state" in
        idle* | mixed* | allocated*)
            log "up: $(sinfo -h -o '%P %D %c %m %G %T')"
            exit 0
            ;;
        down* | drain*)
            scontrol update nodename=localhost state=resume 2>/dev/null || true
            ;;
    esac
    sleep 1
done
log "the node did not come up; see /var/log/slurm/slurmctld.log and slurmd.log"
exit 1
