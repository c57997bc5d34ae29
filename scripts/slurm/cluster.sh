#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for testing profiles/slurm against a real scheduler.
#
#   bash scripts/slurm/cluster.sh install   # apt-get install slurm-wlm + munge if missing (root)
#   bash scripts/slurm/cluster.sh start     # install, write slurm.conf, start munged, slurmctld,
#                                           # slurmd; wait until `sinfo` shows the node idle
#   bash scripts/slurm/cluster.sh status    # exit 0 when the node answers, else 1
#   bash scripts/slurm/cluster.sh stop      # stop the daemons this script started
#   bash scripts/slurm/cluster.sh conf      # print the path of the cluster's slurm.conf
#   bash scripts/slurm/cluster.sh bin       # print the folder of its client-command wrappers
#   bash scripts/slurm/cluster.sh jobcomp   # print the path of its job completion log
#
# `start` is idempotent: when the cluster already answers it does nothing and says so on
# stdout ("already running"); otherwise it prints "started". Daemons run in the background as
# root (SlurmUser=root), with their state, logs and pid files under $MASKFLOW_SLURM_STATE
# (default /var/tmp/maskflow-slurm).
#
# The config is $MASKFLOW_SLURM_STATE/slurm.conf, never /etc/slurm/slurm.conf: only processes
# given SLURM_CONF=<that path> see this cluster (the daemons, and whoever uses it):
#
#   export SLURM_CONF=$(bash scripts/slurm/cluster.sh conf)
#   export PATH=$(bash scripts/slurm/cluster.sh bin):$PATH
#   sinfo; snakemake --profile profiles/slurm ...   # sbatch passes both on to the jobs
#
# The bin folder holds srun, sbatch, squeue, ... wrappers that set SLURM_CONF themselves: inside
# a job, the executor plugin (slurm-jobstep) runs `srun` with every SLURM_* variable but a few
# removed, SLURM_CONF among them, and a bare srun would find no config.
#
# A system-wide slurm.conf would outlive the cluster: once it is stopped, every SLURM client
# on the machine (the Snakemake SLURM executor plugin probes `scontrol show config` at every
# Snakemake start, local runs included) would wait seconds for a controller that is gone.
# An /etc/slurm/slurm.conf left by an earlier version of this script (it carries the marker
# line below) is removed by `start` and `stop`; any other is left alone.
#
# munge is not private: munged uses the system key /etc/munge/munge.key (created if missing,
# as the Debian package does on install) and socket /run/munge; `stop` stops munged only when
# this script started it. The key is installation, like the packages; nothing there points at
# this cluster.
#
# The cluster has no accounting (no slurmdbd): job status must go through squeue, so
# MinJobAge keeps finished jobs visible there for 10 minutes (the executor plugin needs at
# least 3 x its first status-check delay, and polls at most every 180 s). Every job that ends
# is one line of $MASKFLOW_SLURM_STATE/log/jobcomp.txt (JobCompType=jobcomp/filetxt, no
# daemon needed): how tests count the SLURM jobs a run made (`cluster.sh jobcomp` prints it).
#
# The node has one GPU whose device file is /dev/null (gres.conf; SLURM 22.05 counts a GPU
# without a file as none): a job asking for --gpus=1 is accepted, scheduled and given
# CUDA_VISIBLE_DEVICES=0 and SLURM_JOB_GPUS=0, so that the request lines of a GPU training are
# tested here, and so is its refusal to train on the CPU when PyTorch finds no card.
#
# Preempt the running jobs:  sbatch -p urgent -c "$(nproc)" --wrap "sleep 1"
#
# Exit status 3 means SLURM cannot be set up here (not root, no apt-get, install failed):
# callers (tests/workflow/test_slurm.py) skip rather than fail on it.
set -euo pipefail

STATE=${MASKFLOW_SLURM_STATE:-/var/tmp/maskflow-slurm}
CONF=$STATE/slurm.conf
# Every SLURM command below (sinfo, scontrol, the daemons) reads this cluster's config.
export SLURM_CONF=$CONF
# Where earlier versions of this script wrote the config, marked with $MARKER.
LEGACY_CONF=/etc/slurm/slurm.conf
MARKER="# written by maskflow scripts/slurm/cluster.sh"
PARTITION=${MASKFLOW_SLURM_PARTITION:-debug}
# Memory SLURM may hand out: MemTotal minus this headroom (MiB) for the OS and the daemons.
HEADROOM_MB=${MASKFLOW_SLURM_HEADROOM_MB:-1024}
WAIT_SECONDS=${MASKFLOW_SLURM_WAIT:-60}

say() { echo "slurm-cluster: $*" >&2; }
cannot() { say "$*"; exit 3; }

have_slurm() { command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; }

install() {
  have_slurm && return 0
  [ "$(id -u)" = 0 ] || cannot "not root: cannot install slurm-wlm and munge"
  command -v apt-get >/dev/null || cannot "no apt-get: install slurm-wlm and munge by hand"
  say "installing slurm-wlm and munge (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  # Other installs may hold the dpkg lock for a while: wait for it rather than fail.
  local apt=(apt-get -o DPkg::Lock::Timeout=600 -qq)
  if ! "${apt[@]}" install -y --no-install-recommends slurm-wlm munge >/dev/null 2>&1; then
    "${apt[@]}" update >/dev/null 2>&1 || true
    "${apt[@]}" install -y --no-install-recommends slurm-wlm munge >/dev/null \
      || cannot "apt-get install slurm-wlm munge failed"
  fi
  have_slurm || cannot "slurm-wlm installed but slurmctld/slurmd/munged not found"
}

node_name() { hostname -s; }

real_memory_mb() {
  local total_kb
  total_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
  echo $(( total_kb / 1024 - HEADROOM_MB ))
}

# An /etc/slurm/slurm.conf this script wrote before it kept the config in $STATE: it points
# every SLURM client on the machine at a controller that only runs while the cluster does.
remove_legacy_conf() {
  if [ -f "$LEGACY_CONF" ] && grep -qF "$MARKER" "$LEGACY_CONF"; then
    rm -f "$LEGACY_CONF"
    say "removed $LEGACY_CONF (written by an earlier version of this script)"
  fi
}

write_conf() {
  local host cpus mem
  host=$(node_name)
  cpus=$(nproc)
  mem=$(real_memory_mb)
  mkdir -p "$STATE"/{ctld,d,log,run}
  cat >"$CONF.tmp" <<EOF
$MARKER
# One node ($host): $cpus CPUs, ${mem} MiB. State, logs and pids under $STATE.
ClusterName=maskflow
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
# No cgroups needed: processes are tracked through /proc, which works in containers too.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# No slurmdbd: sacct has nothing to read, so job status goes through squeue. MinJobAge keeps
# finished jobs in squeue long enough for the executor plugin to see how they ended.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/log/jobcomp.txt
MinJobAge=600
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
# A cancelled or timed-out job gets SIGTERM, then SIGKILL this many seconds later: time
# for training to write its resume state.
KillWait=30
# The node may report other hardware than the CPUs and memory granted to it here.
SlurmdParameters=config_overrides
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
# One GPU that nothing can compute on (gres.conf: File=/dev/null).
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem Gres=gpu:1 State=UNKNOWN
# Preemption as on shared clusters: a job in \`urgent\` takes the CPUs of running $PARTITION
# jobs, which SLURM puts back in the queue (REQUEUE) and starts again later.
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP PriorityTier=1
PartitionName=urgent Nodes=$host MaxTime=INFINITE State=UP PriorityTier=2 PreemptMode=OFF
EOF
  # slurmd reads gres.conf beside slurm.conf.
  printf '%s\nNodeName=%s Name=gpu File=/dev/null\n' "$MARKER" "$host" >"$STATE/gres.conf"
  mv "$CONF.tmp" "$CONF"
}

# Client commands that always use this cluster's config, whatever their caller's environment.
write_client_wrappers() {
  local command real
  mkdir -p "$STATE/bin"
  for command in srun sbatch squeue scancel scontrol sinfo sacct salloc sstat; do
    # The real command: the first on PATH that is not one of these wrappers.
    real=$(PATH=$(printf %s "$PATH" | tr : '\n' | grep -vxF "$STATE/bin" | paste -sd:) command -v "$command") || continue
    printf '#!/bin/sh\n# written by maskflow scripts/slurm/cluster.sh\nSLURM_CONF=%q exec %q "$@"\n' "$CONF" "$real" >"$STATE/bin/$command"
    chmod 0755 "$STATE/bin/$command"
  done
}

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
  munge_works && return 0
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null \
      || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
  fi
  local user=root
  id munge >/dev/null 2>&1 && user=munge
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown "$user" /etc/munge/munge.key /run/munge /var/log/munge /var/lib/munge
  chmod 0400 /etc/munge/munge.key
  chmod 0755 /run/munge
  if [ "$user" = root ]; then
    munged --force
  else
    runuser -u munge -- munged
  fi
  echo munged >>"$STATE/run/started"
  local i
  for i in $(seq 1 50); do munge_works && return 0; sleep 0.2; done
  cannot "munged did not come up"
}

node_state() { sinfo -h -N -n "$(node_name)" -o %t 2>/dev/null | head -1; }

cluster_answers() {
  case "$(node_state)" in
    idle | mix | mixed | alloc | allocated | comp | completing) return 0 ;;
    *) return 1 ;;
  esac
}

wait_for_node() {
  local i state
  for i in $(seq 1 $((WAIT_SECONDS * 2))); do
    state=$(node_state)
    case "$state" in
      idle | mix | alloc) return 0 ;;
      # Left drained or down by an earlier run: the config is ours, put it back in service.
      drain* | drng | down*) scontrol update nodename="$(node_name)" state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 0.5
  done
  say "node did not become idle within ${WAIT_SECONDS}s (state: ${state:-none}); last log lines:"
  tail -n 20 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2 || true
  exit 1
}

start() {
  install
  remove_legacy_conf
  mkdir -p "$STATE/run"
  write_client_wrappers
  if cluster_answers; then
    echo "already running"
    return 0
  fi
  write_conf
  start_munge
  if ! pid_alive "$STATE/run/slurmctld.pid"; then
    slurmctld -f "$CONF"
    echo slurmctld >>"$STATE/run/started"
  fi
  if ! pid_alive "$STATE/run/slurmd.pid"; then
    slurmd -f "$CONF"
    echo slurmd >>"$STATE/run/started"
  fi
  wait_for_node
  say "node $(node_name) is idle in partition $PARTITION"
  echo "started"
}

# Stop a daemon through its pid file: SIGTERM, then SIGKILL if it lingers.
stop_pid() {
  local pidfile=$1 pid i
  pid_alive "$pidfile" || return 0
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
}

stop() {
  stop_pid "$STATE/run/slurmd.pid"
  stop_pid "$STATE/run/slurmctld.pid"
  # munged is stopped only when this script started it (a system munged stays up).
  if grep -qx munged "$STATE/run/started" 2>/dev/null; then
    stop_pid /run/munge/munged.pid
  fi
  rm -f "$STATE/run/started"
  remove_legacy_conf
  echo "stopped"
}

status() {
  if cluster_answers; then
    sinfo
    return 0
  fi
  say "no SLURM node answers here"
  return 1
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  conf) echo "$CONF" ;;
  jobcomp) echo "$STATE/log/jobcomp.txt" ;;
  bin) echo "$STATE/bin" ;;
  *) echo "usage: $0 install|start|stop|status|conf|bin|jobcomp" >&2; exit 2 ;;
esac
