/**
 * What runs inside the guest, besides the probe: busybox's init with a small inittab, a setup
 * script, the serial console's shell, and a stream daemon per virtio-serial port. Names the host
 * and the guest must agree on (port names, disk serials, the ready word on the kernel command line)
 * are declared here once.
 */
import { shellBootstrap } from '../session'

/** The kernel command-line word that carries the console's ready nonce. */
export const READY_PARAM = 'splab.ready'
/** The kernel command-line word that says how many stream ports the guest has. */
export const PORTS_PARAM = 'splab.ports'
const PORT_PREFIX = 'splab.stream.'
/** The name of stream port `i` (qemu's virtserialport name=, the guest's /sys/class/virtio-ports/*\/name). */
export const portName = (i: number): string => `${PORT_PREFIX}${i}`
/** The serial of a scratch disk by its variant (qemu's virtio-blk serial=, the guest's /sys/block/vdX/serial: at most 20 bytes). */
export const diskSerial = (variant: string): string => {
  const serial = `sl-${variant}`
  if (serial.length > 20 || !/^[a-z0-9-]+$/.test(serial)) throw new Error(`disk serial ${JSON.stringify(serial)} is not a virtio-blk serial (20 bytes of [a-z0-9-])`)
  return serial
}

export const GUEST_HOME = '/root'
/** Where the stream daemon lives in the guest. */
export const PORTD_PATH = '/splab/portd'
/** Where the binary trace reader (resources/tracepipe) lives in the guest. */
export const TRACEPIPE_PATH = '/splab/tracepipe'

/**
 * Busybox init (reaps orphans, restarts the console shell if it ever ends). sysinit runs to the end
 * before the console starts, so the console finds /dev populated.
 */
export const INITTAB = `::sysinit:/splab/setup
ttyS0::respawn:/splab/console
`

/**
 * Mounts what the lab needs (tracefs for the tracer; devtmpfs by hand: CONFIG_DEVTMPFS_MOUNT does
 * not apply to an initramfs root, init/do_mounts.c) and starts a stream daemon per port. Ports
 * appear asynchronously (the host announces them over virtio-serial's control queue,
 * drivers/char/virtio_console.c), so each daemon's starter waits for its port by name.
 */
export const SETUP = `#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
hostname splice-lab-guest
n=$(sed -n 's/.*${PORTS_PARAM.replace('.', '\\.')}=\\([0-9]*\\).*/\\1/p' /proc/cmdline)
i=0
while [ "$i" -lt "\${n:-0}" ]; do
  (
    t=0
    while :; do
      for f in /sys/class/virtio-ports/*/name; do
        [ "$(cat "$f" 2>/dev/null)" = "${PORT_PREFIX}$i" ] && exec ${PORTD_PATH} "/dev/$(basename "$(dirname "$f")")"
      done
      t=$((t + 1)); [ "$t" -gt 300 ] && { echo "splice-lab: stream port $i never appeared" >/dev/console; exit 1; }
      sleep 0.1
    done
  ) </dev/null >/dev/null 2>&1 &
  i=$((i + 1))
done
`

/**
 * The console's shell, started by init on ttyS0 as its controlling terminal: the same bootstrap as
 * a local or ssh session (session.ts: stty, ready sentinel, bash without rc files), with the ready
 * nonce taken from the kernel command line.
 */
export function consoleScript(): string {
  const bootstrap = shellBootstrap('@READY@')
  return `#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=${GUEST_HOME} TMPDIR=/tmp TERM=dumb
cd ${GUEST_HOME}
ready=$(sed -n 's/.*${READY_PARAM.replace('.', '\\.')}=\\([0-9a-f]*\\).*/\\1/p' /proc/cmdline)
exec sh -c "$(sed "s/@READY@/$ready/" <<'EOF'
${bootstrap}
EOF
)"
`
}

/** Identity files, so tools that look up user 0 find a name and a home. */
export const PASSWD = `root:x:0:0:root:${GUEST_HOME}:/bin/bash\n`
export const GROUP = 'root:x:0:\n'
