/**
 * The qemu command line of a lab guest, and how it is started so that it never outlives the lab.
 *
 * - The serial console (ttyS0) is qemu's stdio, which is the pty node-pty gives it: the lab drives
 *   it like a local shell. `signal=off`: a ^C the lab sends to interrupt a command must reach the
 *   guest, not end qemu (chardev stdio's default).
 * - Streams get virtio-serial ports of their own, each a unix socket on the host (ports.ts).
 * - `-no-reboot` with `panic=-1`: a panicking guest resets at once and qemu exits, so a panic shows
 *   as its console text followed by qemu's exit, and the lab boots a fresh guest.
 * - qemu runs under `setpriv --pdeathsig KILL`: the kernel kills it when the process that started it
 *   dies, SIGKILL included (prctl(2) PR_SET_PDEATHSIG; node-pty forks from the main thread).
 */
import { bootArgProblem } from '../../../shared/boot-args'
import type { SessionSpawn } from '../session'
import type { Disk } from './disks'
import { PORTS_PARAM, READY_PARAM, diskSerial, portName } from './guest'

export type Accelerator = 'kvm' | 'tcg'

export interface QemuConfig {
  qemu: string
  kernel: string
  initrd: string
  accel: Accelerator
  memoryMb: number
  cpus: number
  /** The console's ready nonce (guest.ts). */
  ready: string
  /** Unix socket paths of the stream ports, in port order. */
  ports: string[]
  disks: Disk[]
  /** Extra kernel command-line words from the person (validated by checkBootArgs). */
  bootArgs: string[]
}

/**
 * The kernel command line: the console on the first serial port; loglevel 5 shows warnings and
 * worse (an oops, a WARN, a panic) without the boot chatter (KERN_NOTICE and below) between the
 * lab's commands; panic=-1 reboots at once on a panic (with -no-reboot: qemu exits).
 */
export function kernelCommandLine(c: Pick<QemuConfig, 'ready' | 'ports' | 'bootArgs'>): string {
  return ['console=ttyS0', 'loglevel=5', 'panic=-1', `${READY_PARAM}=${c.ready}`, `${PORTS_PARAM}=${c.ports.length}`, ...c.bootArgs].join(' ')
}

export function qemuArgs(c: QemuConfig): string[] {
  const args = [
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-accel', c.accel,
    // TCG: every CPU feature it emulates; KVM: the host's CPU.
    '-cpu', c.accel === 'kvm' ? 'host' : 'max',
    // One CPU per socket: the lab's kernels have no ACPI, so they find CPUs in SeaBIOS's MP table,
    // which lists one CPU per package (src/fw/mptable.c steps by cores per package); with qemu's
    // default of one socket with N cores the guest saw a single CPU.
    '-smp', `${c.cpus},sockets=${c.cpus},cores=1,threads=1`,
    '-m', `${c.memoryMb}M`,
    '-no-reboot',
    '-chardev', 'stdio,id=console,signal=off',
    '-serial', 'chardev:console',
    '-kernel', c.kernel,
    '-initrd', c.initrd,
    '-append', kernelCommandLine(c),
    '-device', 'virtio-serial-pci,id=ports',
  ]
  c.ports.forEach((path, i) => {
    args.push('-chardev', `socket,id=port${i},path=${path},server=on,wait=off`)
    args.push('-device', `virtserialport,bus=ports.0,chardev=port${i},name=${portName(i)}`)
  })
  for (const d of c.disks) {
    // cache=unsafe: scratch images thrown away with the guest; the guest's own page cache and
    // fsync behave as on any disk, only the host skips flushing the image file.
    args.push('-drive', `file=${d.path},format=raw,if=none,id=disk-${d.variant},cache=unsafe`)
    args.push('-device', `virtio-blk-pci,drive=disk-${d.variant},serial=${diskSerial(d.variant)}`)
  }
  return args
}

/**
 * qemu under a parent-death signal, as node-pty will spawn it. `stty -onlcr` first: qemu's stdio
 * chardev leaves output processing on (char-stdio.c sets OPOST), so the pty would turn the guest
 * tty's \r\n into \r\r\n; without ONLCR the guest's own line endings pass through as they are.
 */
export function supervisedQemu(c: QemuConfig): SessionSpawn {
  return { file: 'setpriv', args: ['--pdeathsig', 'KILL', '--', 'sh', '-c', 'stty -onlcr && exec "$@"', 'sh', c.qemu, ...qemuArgs(c)] }
}

/** Checks the person's boot arguments; returns them or throws a message naming the bad one. */
export function checkBootArgs(args: string[]): string[] {
  for (const a of args) {
    const problem = bootArgProblem(a)
    if (problem) throw new Error(`--boot-arg: ${problem}`)
  }
  return args
}
