#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, to try the `slurm` profile without a real cluster.
#
#   slurm/local-cluster.sh start    # install slurm-wlm + munge if missing, start munged, slurmctld, slurmd
#   slurm/local-cluster.sh status   # sinfo + squeue
#   slurm/local-cluster.sh stop     # cancel every job, stop the daemons, remove the folder
#
# Everything (slurm.conf, munge key and socket, state, spool, logs) lives in one folder,
# $MEDADAPT_SLURM_DIR (default: $TMPDIR/medadapt-slurm, i.e. /tmp/medadapt-slurm). The one file
# outside it is the link /etc/slurm/slurm.conf -> that folder's slurm.conf, made by `start` and
# removed by `stop`: SLURM's commands read the default path, and the Snakemake job step strips
# SLURM_CONF (with every other SLURM_* variable) before it calls `srun` inside a job. `start`
# refuses to replace an /etc/slurm/slurm.conf that is not its own link (a machine that already
# talks to a cluster). Settings (environment): MEDADAPT_SLURM_CPUS (2), MEDADAPT_SLURM_MEM_MB
# (20000), MEDADAPT_SLURM_PORT (6817; slurmd listens on PORT+1). Needs root: slurmd starts jobs
# as their owner, and installing uses apt-get (Debian/Ubuntu).
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin # slurmctld, slurmd, munged

DIR=${MEDADAPT_SLURM_DIR:-${TMPDIR:-/tmp}/medadapt-slurm}
CPUS=${MEDADAPT_SLURM_CPUS:-2}
MEM_MB=${MEDADAPT_SLURM_MEM_MB:-20000}
PORT=${MEDADAPT_SLURM_PORT:-6817}
NODE=$(hostname -s)
CONF=$DIR/slurm.conf
SYSTEM_CONF=/etc/slurm/slurm.conf

die() {
    echo "local-cluster: $*" >&2
    exit 1
}

# This machine cannot host the cluster (not root, no package registry, already a SLURM client):
# exit status 3, which the tests turn into a skip.
cannot() {
    echo "local-cluster: $*" >&2
    exit 3
}

install_if_missing() {
    local missing=()
    command -v slurmctld >/dev/null || missing+=(slurm-wlm)
    command -v munged >/dev/null || missing+=(munge)
    [ ${#missing[@]} -eq 0 ] && return
    [ "$(id -u)" -eq 0 ] || cannot "${missing[*]} not installed and not root: install them with apt-get as root"
    command -v apt-get >/dev/null || cannot "${missing[*]} not installed and no apt-get here (Debian/Ubuntu only)"
    echo "local-cluster: installing ${missing[*]} (apt-get)" >&2
    local wait_lock=(-o DPkg::Lock::Timeout=300) # another apt-get may be running
    apt-get "${wait_lock[@]}" update -qq >&2 || cannot "apt-get update failed (no Debian package registry reachable?)"
    DEBIAN_FRONTEND=noninteractive apt-get "${wait_lock[@]}" install -y -qq --no-install-recommends \
        slurm-wlm munge >&2 ||
        cannot "apt-get install slurm-wlm munge failed"
}

write_config() {
    mkdir -p "$DIR"/{state,spool,log,munge}
    chmod 700 "$DIR" "$DIR/munge"
    # A fresh random key: this cluster talks only to itself.
    dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$DIR/munge/munge.key"
    cat >"$CONF" <<EOF
# Written by slurm/local-cluster.sh: one node, $CPUS CPUs, $MEM_MB MB, no accounting database.
ClusterName=medadapt-local
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
ReturnToService=2
# Finished jobs stay visible to squeue/scontrol for 10 minutes (the executor's status command).
MinJobAge=600
KillWait=5
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=local Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() { # SECONDS DESCRIPTION COMMAND...
    local seconds=$1 what=$2
    shift 2
    for _ in $(seq $((seconds * 5))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    tail -n 20 "$DIR"/log/*.log >&2 2>/dev/null || true
    echo "local-cluster: timed out waiting for $what" >&2
    return 1
}

node_idle() { [ "$(sinfo -h -N -n "$NODE" -o %t 2>/dev/null)" = idle ]; }

start() {
    install_if_missing
    [ "$(id -u)" -eq 0 ] || cannot "start needs root (slurmd starts jobs as their owner)"
    if [ -L "$SYSTEM_CONF" ] && [ -e "$SYSTEM_CONF" ]; then
        local other
        other=$(dirname "$(readlink "$SYSTEM_CONF")")
        if pid_alive "$other/slurmctld.pid"; then
            cannot "a local cluster is already running from $other (MEDADAPT_SLURM_DIR=$other $0 stop)"
        fi
    elif [ -e "$SYSTEM_CONF" ]; then
        cannot "$SYSTEM_CONF exists and is not this script's link: this machine is already a SLURM client"
    fi
    trap 'echo "local-cluster: start failed, stopping what was started" >&2; stop' ERR
    rm -rf "$DIR"
    write_config
    mkdir -p "$(dirname "$SYSTEM_CONF")"
    ln -sfn "$CONF" "$SYSTEM_CONF"
    munged --force --socket="$DIR/munge/munge.socket" --key-file="$DIR/munge/munge.key" \
        --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/log/munged.log" \
        --seed-file="$DIR/munge/munged.seed"
    wait_for 10 munged test -S "$DIR/munge/munge.socket"
    slurmctld -f "$CONF"
    slurmd -f "$CONF" -N "$NODE"
    wait_for 60 "node $NODE idle" node_idle
    trap - ERR
    echo "local-cluster: up (node $NODE: $CPUS CPUs, $MEM_MB MB; files in $DIR)" >&2
}

stop_pid() { # PIDFILE NAME
    pid_alive "$1" || return 0
    local pid
    pid=$(cat "$1")
    kill "$pid"
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    echo "local-cluster: $2 ($pid) did not stop on SIGTERM, killing it" >&2
    kill -9 "$pid" 2>/dev/null || true
}

stop() {
    if pid_alive "$DIR/slurmctld.pid"; then
        # Jobs first (every user's), so that no slurmstepd or job process outlives slurmd.
        local jobs
        jobs=$(squeue -h -o %i 2>/dev/null || true)
        [ -z "$jobs" ] || scancel --full $jobs 2>/dev/null || true
        for _ in $(seq 100); do
            [ -z "$(squeue -h -o %i -t PD,R,CG,S 2>/dev/null)" ] && break
            sleep 0.2
        done
    fi
    stop_pid "$DIR/slurmd.pid" slurmd
    stop_pid "$DIR/slurmctld.pid" slurmctld
    stop_pid "$DIR/munge/munged.pid" munged
    if [ "$(readlink "$SYSTEM_CONF" 2>/dev/null)" = "$CONF" ]; then rm -f "$SYSTEM_CONF"; fi
    rm -rf "$DIR"
}

case ${1:-} in
start) start ;;
stop) stop ;;
status) sinfo && squeue ;;
install) install_if_missing ;;
*) die "usage: $0 start|stop|status|install" ;;
esac
