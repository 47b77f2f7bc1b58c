#!/bin/bash
# Boot test of a store kernel under qemu (TCG): builds a busybox initramfs with splicetest.c
# compiled statically on the host, an ext4 scratch disk, and boots the kernel once per policy.
#
#   resources/kernel/boot-test/run.sh BZIMAGE [POLICY...] [-- STRESS_ITERATIONS]
#
# POLICY: stock, steal-or-copy, copy (default: all three). Each boot's console goes to
# $OUT/console-POLICY.log (OUT defaults to a temp directory, printed). Exit status 0 when every boot
# ran splicetest to the end with no failed check and no oops/BUG/WARNING on the console.
# Needs: qemu-system-x86, busybox-static, cpio, gcc + libc6-dev (static libc), e2fsprogs, xfsprogs,
# btrfs-progs. The guest runs splicetest on ext4, xfs and btrfs disks and on tmpfs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kernel=${1:?usage: run.sh BZIMAGE [POLICY...] [-- STRESS_ITERATIONS]}
shift
policies=()
iterations=2000
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then iterations=${2:?}; shift 2; continue; fi
  policies+=("$1"); shift
done
[ ${#policies[@]} -gt 0 ] || policies=(stock steal-or-copy copy)
# Under TCG a whole boot plus the stress loop takes well under this; a hang ends here.
TIMEOUT_S=${TIMEOUT_S:-600}

work=$(mktemp -d /tmp/splice-lab-boot-test.XXXXXX)
OUT=${OUT:-$work}
mkdir -p "$OUT"
qpid=
cleanup() {
  # $qpid is timeout(1); qemu is its child, which a SIGKILL of timeout would orphan.
  if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
    pkill -KILL -P "$qpid" 2>/dev/null || true
    kill -KILL "$qpid" 2>/dev/null || true
  fi
  rm -rf "$work/root" "$work"/*.img "$work/initrd.gz"
  if [ "$OUT" != "$work" ]; then rmdir "$work" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/root"/{bin,dev,proc,sys,tmp,mnt}
cp /bin/busybox "$work/root/bin/busybox"
gcc -O2 -static -pthread -Wall -o "$work/root/bin/splicetest" "$here/splicetest.c"
cat > "$work/root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
policy=$(sed -n 's/.*splice_policy=\([^ ]*\).*/\1/p' /proc/cmdline)
iterations=$(sed -n 's/.*splicetest_iterations=\([^ ]*\).*/\1/p' /proc/cmdline)
echo "== policy ${policy:-stock}"
cat /proc/fs/splice
mkdir -p /mnt/ext4 /mnt/xfs /mnt/btrfs /mnt/tmpfs
mount -t ext4 /dev/vda /mnt/ext4 && mount -t xfs /dev/vdb /mnt/xfs && mount -t btrfs /dev/vdc /mnt/btrfs &&
  mount -t tmpfs tmpfs /mnt/tmpfs &&
  /bin/splicetest "${policy:-stock}" "${iterations:-2000}" ext4:/mnt/ext4 xfs:/mnt/xfs btrfs:/mnt/btrfs tmpfs:/mnt/tmpfs
echo "== exit $?"
cat /proc/fs/splice
echo "== done"
reboot -f
INIT
chmod +x "$work/root/init"
(cd "$work/root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.gz"

status=0
for policy in "${policies[@]}"; do
  rm -f "$work"/*.img
  # xfsprogs refuses filesystems under 300 MB; the images are sparse.
  truncate -s 320M "$work/ext4.img" "$work/xfs.img" "$work/btrfs.img"
  mkfs.ext4 -q -F -b 4096 "$work/ext4.img"
  mkfs.xfs -q -f "$work/xfs.img"
  mkfs.btrfs -q -f "$work/btrfs.img" >/dev/null
  log="$OUT/console-$policy.log"
  start=$(date +%s)
  timeout -s KILL "$TIMEOUT_S" qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 1024 -nographic -no-reboot \
    -kernel "$kernel" -initrd "$work/initrd.gz" \
    -append "console=ttyS0 panic=-1 oops=panic splice_policy=$policy splicetest_iterations=$iterations" \
    -drive "file=$work/ext4.img,format=raw,if=virtio" -drive "file=$work/xfs.img,format=raw,if=virtio" \
    -drive "file=$work/btrfs.img,format=raw,if=virtio" > "$log" 2>&1 &
  qpid=$!
  wait "$qpid" || true
  qpid=
  secs=$(( $(date +%s) - start ))
  summary=$(grep -a '^splicetest:' "$log" || echo "splicetest: did not finish")
  oops=$(grep -a -c -E 'Oops|BUG:|WARNING:|Kernel panic|general protection' "$log" || true)
  echo "$policy: $summary; oops/BUG/WARNING lines: $oops; ${secs}s; console: $log"
  grep -a -E '^(FAIL|ok  )' "$log" | sed 's/^/  /'
  if ! grep -a -q '^splicetest: .* 0 failed' "$log" || [ "$oops" != 0 ]; then status=1; fi
done
exit $status
