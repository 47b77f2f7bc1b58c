#!/bin/bash
# Runs docs/stock-rules/inputs.c on tmpfs, ext4 (4 KiB and 1 KiB blocks: mke2fs picks 1 KiB by itself
# below 512 MiB, so both are explicit), xfs and btrfs (with and
# without nodatasum) on loop devices, as root, one block per filesystem variant. Cleans up (unmount,
# detach, remove) on every exit path.
#   sudo bash docs/stock-rules/run-inputs.sh [experiment-name-substring] > inputs-6.18.txt
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/stockinputs.XXXXXX)
loops=()
cleanup() {
  for m in "$work"/mnt-*; do mountpoint -q "$m" 2>/dev/null && umount "$m"; done
  for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
gcc -O2 -Wall -Wno-unused-result -o "$work/exp" "$here/inputs.c"
echo "kernel $(uname -r)"
for variant in tmpfs ext4 ext4-b1024 xfs btrfs btrfs-nodatasum; do
  m="$work/mnt-$variant"; mkdir -p "$m"
  if [ "$variant" = tmpfs ]; then
    mount -t tmpfs -o size=64m tmpfs "$m"
  else
    truncate -s 320M "$work/$variant.img"
    l=$(losetup -f --show "$work/$variant.img"); loops+=("$l")
    opts=()
    case $variant in
      ext4) mkfs.ext4 -q -b 4096 "$l" ;;
      ext4-b1024) mkfs.ext4 -q -b 1024 "$l" ;;
      xfs) mkfs.xfs -q -f "$l" ;;
      btrfs) mkfs.btrfs -q -f "$l" >/dev/null ;;
      btrfs-nodatasum) mkfs.btrfs -q -f "$l" >/dev/null; opts=(-o nodatasum) ;;
    esac
    mount "${opts[@]}" "$l" "$m"
  fi
  echo "== $variant"
  "$work/exp" "$m" "${1:-}"
  umount "$m"
done
