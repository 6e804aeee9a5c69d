#!/usr/bin/env bash
# Start a single-node SLURM (munged, slurmctld, slurmd on localhost) without systemd.
# State, logs, keys and pid files live under $FLINT_SLURM_DIR (default /tmp/flint-slurm).
# Safe to repeat: daemons already running from that directory are left alone.
# Then: export SLURM_CONF=$FLINT_SLURM_DIR/etc/slurm.conf
#   FLINT_SLURM_CPUS / FLINT_SLURM_MEMORY_MB: what the node advertises (default 16 / 65536)
#   FLINT_SLURM_CTLD_PORT / FLINT_SLURM_SLURMD_PORT: ports (default 16817 / 16818)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${FLINT_SLURM_DIR:-/tmp/flint-slurm}
cpus=${FLINT_SLURM_CPUS:-16}
memory_mb=${FLINT_SLURM_MEMORY_MB:-65536}
ctld_port=${FLINT_SLURM_CTLD_PORT:-16817}
slurmd_port=${FLINT_SLURM_SLURMD_PORT:-16818}
user=$(id -un)
conf=$dir/etc/slurm.conf

log() { printf 'flint slurm: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

for tool in munged mungekey slurmctld slurmd sinfo scontrol; do
    command -v "$tool" >/dev/null || PATH=$PATH:/usr/sbin
    command -v "$tool" >/dev/null || die "$tool is missing (apt-get install slurmctld slurmd slurm-client munge)"
done

running() {  # running PIDFILE NAME: the pid file names a live process called NAME
    local pid
    [ -s "$1" ] || return 1
    pid=$(cat "$1")
    [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$2" ]
}

mkdir -p "$dir"/{etc,state/ctld,state/d,log,run,munge}
chmod 755 "$dir" "$dir/munge"  # munged insists on a socket directory others can reach

sed -e "s|@DIR@|$dir|g" -e "s|@USER@|$user|g" -e "s|@CPUS@|$cpus|g" \
    -e "s|@MEMORY_MB@|$memory_mb|g" -e "s|@CTLD_PORT@|$ctld_port|g" \
    -e "s|@SLURMD_PORT@|$slurmd_port|g" "$here/slurm.conf.in" > "$conf.tmp"
mv "$conf.tmp" "$conf"
export SLURM_CONF=$conf

if running "$dir/run/munged.pid" munged; then
    log "munged already running"
else
    [ -s "$dir/munge/munge.key" ] || mungekey --create --keyfile="$dir/munge/munge.key"
    chmod 600 "$dir/munge/munge.key"
    munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket.2" \
        --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" \
        --seed-file="$dir/munge/munged.seed"
    log "munged started"
fi

if running "$dir/run/slurmctld.pid" slurmctld; then
    log "slurmctld already running"
else
    slurmctld -c -f "$conf"
    log "slurmctld started"
fi

if running "$dir/run/slurmd.pid" slurmd; then
    log "slurmd already running"
else
    slurmd -N localhost -f "$conf"
    log "slurmd started"
fi

for _ in $(seq 1 60); do
    state=$(sinfo -h -n localhost -o %T 2>/dev/null || true)
    case "$state" in
        idle*|mixed*|allocated*) log "node localhost is $state"; echo "export SLURM_CONF=$conf"; exit 0 ;;
        down*|drain*) scontrol update nodename=localhost state=resume 2>/dev/null || true ;;
    esac
    sleep 1
done
die "the node did not become idle (state: ${state:-unknown}); see $dir/log/"
