#!/usr/bin/env bash
# Stop the single-node SLURM started by start.sh from $FLINT_SLURM_DIR (default /tmp/flint-slurm):
# cancel its jobs, then stop slurmd, slurmctld and munged by their pid files only.
# Safe to repeat. With --purge, also delete the directory.
set -euo pipefail

dir=${FLINT_SLURM_DIR:-/tmp/flint-slurm}
export SLURM_CONF=$dir/etc/slurm.conf
PATH=$PATH:/usr/sbin

log() { printf 'flint slurm: %s\n' "$*" >&2; }

stop_daemon() {  # stop_daemon NAME: signal the pid in run/NAME.pid if it is still NAME
    local pidfile=$dir/run/$1.pid pid
    [ -s "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$1" ]; then
        kill -TERM "$pid"
        for _ in $(seq 1 100); do
            [ -e "/proc/$pid" ] || break
            sleep 0.1
        done
        [ -e "/proc/$pid" ] && kill -KILL "$pid"
        log "$1 stopped"
    fi
    rm -f "$pidfile"
}

if [ -s "$dir/run/slurmctld.pid" ] && [ -f "$SLURM_CONF" ]; then
    if [ -n "$(squeue -h -o %i 2>/dev/null)" ]; then
        scancel --full --signal=KILL $(squeue -h -o %i) 2>/dev/null || true
        scancel $(squeue -h -o %i) 2>/dev/null || true
        for _ in $(seq 1 30); do
            [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
            sleep 1
        done
    fi
fi
stop_daemon slurmd
stop_daemon slurmctld
stop_daemon munged
if [ "${1:-}" = "--purge" ]; then
    rm -rf "$dir"
    log "removed $dir"
fi
