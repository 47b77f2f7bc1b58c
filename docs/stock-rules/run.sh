#!/bin/bash
# Runs docs/stock-rules/experiments.c (or another program of this folder) on tmpfs and on ext4, xfs
# and btrfs loop devices (as root), printing one block per filesystem. Cleans up (unmount, detach,
# remove) on every exit path.
#   sudo bash docs/stock-rules/run.sh [experiment-name-substring] > results-6.18.txt
#   sudo bash docs/stock-rules/run.sh folios.c 1024 > folios-6.18.txt     (returns.c, race.c 300 alike)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/stockexp.XXXXXX)
loops=()
cleanup() {
  for m in "$work"/mnt-*; do mountpoint -q "$m" 2>/dev/null && umount "$m"; done
  for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
prog=experiments.c
case "${1:-}" in *.c) prog=$1; shift ;; esac
gcc -O2 -Wall -Wno-unused-result -o "$work/exp" "$here/$prog"
echo "kernel $(uname -r)"
for fs in tmpfs ext4 xfs btrfs; do
  m="$work/mnt-$fs"; mkdir -p "$m"
  if [ "$fs" = tmpfs ]; then
    mount -t tmpfs -o size=64m tmpfs "$m"
  else
    truncate -s 320M "$work/$fs.img"
    l=$(losetup -f --show "$work/$fs.img"); loops+=("$l")
    case $fs in
      ext4) mkfs.ext4 -q "$l" ;;
      xfs) mkfs.xfs -q -f "$l" ;;
      btrfs) mkfs.btrfs -q -f "$l" >/dev/null ;;
    esac
    mount "$l" "$m"
  fi
  echo "== $fs"
  "$work/exp" "$m" "${1:-}"
  umount "$m"
done
