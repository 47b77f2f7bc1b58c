/**
 * What each fact of a target means for a run, in words a person can act on. Plain logic, so it is
 * unit-tested without a DOM.
 */
import type { TargetFactsView } from '../../shared/api'

export interface FactLine {
  label: string
  value: string
  ok: boolean | null
  /** What it means for a run, especially when it is missing. */
  meaning: string
}

export function describeFacts(f: TargetFactsView): FactLine[] {
  const rootLike = f.root || f.sudo
  return [
    { label: 'Kernel', value: `${f.kernel} (${f.arch}, ${f.pageSize}-byte pages)`, ok: null, meaning: 'Runs are recorded against this kernel release.' },
    {
      label: 'Scratch filesystem',
      value: `${f.scratch.fs} at ${f.scratch.dir}`,
      ok: null,
      meaning: mkfsMeaning(f),
    },
    {
      label: 'Root',
      value: f.root ? 'yes' : f.sudo ? 'no, sudo -n works' : 'no',
      ok: rootLike,
      meaning: rootLike ? 'Can create a private ftrace instance and loop filesystems.' : 'Without root (or passwordless sudo) there is no kernel trace and only the scratch filesystem: the probe still runs.',
    },
    {
      label: 'tracefs',
      value: f.tracefs.path ? `${f.tracefs.path}${f.tracefs.writable ? '' : ' (read-only)'}` : 'not available',
      ok: !!f.tracefs.path && f.tracefs.writable,
      meaning: f.tracefs.path && f.tracefs.writable ? 'Live kernel events stream into the charts from a private instance.' : `No live kernel charts: ${f.tracefs.why ?? 'tracefs is missing or not writable'}.`,
    },
    {
      label: 'perf tracepoints',
      value: f.perf.available ? `yes${f.perf.paranoid !== null ? ` (perf_event_paranoid ${f.perf.paranoid})` : ''}` : 'no',
      ok: f.perf.available,
      meaning: f.perf.available ? 'The probe counts tracepoints per op exactly.' : `The op table has no per-op tracepoint counts: ${f.perf.why ?? 'perf_event_open is not permitted'}.`,
    },
    {
      label: 'C compiler',
      value: f.compiler.path ?? 'none',
      ok: !!f.compiler.path,
      meaning: f.compiler.path ? 'The probe is compiled on the target.' : `Nothing can run: the probe is compiled on the target (${f.compiler.why ?? 'install gcc or cc'}).`,
    },
    {
      label: '/proc/fs/splice',
      value: f.spliceStats ? 'present' : 'absent (stock kernel)',
      ok: null,
      meaning: f.spliceStats ? 'This kernel has the RFC’s statistics: steals and copies are counted exactly.' : 'Steals and copies are inferred from tracepoints, and said to be inferred.',
    },
    ...(f.vm ? vmLines(f.vm) : []),
    // What the connect itself did or found missing (e.g. "mounted tracefs at /sys/kernel/tracing").
    ...(f.notes ?? []).filter((note) => !REPEATS_A_ROW.some((re) => re.test(note))).map((note) => ({ label: 'Note', value: note, ok: null, meaning: '' })),
  ]
}

/** Notes the rows above already say (the CLI prints the notes alone, so the core keeps them). */
const REPEATS_A_ROW = [/^no \/proc\/fs\/splice/, /^no trace: /, /^no tracepoint counts from the probe: /]

/** How a VM target's guest was booted: the accelerator decides how fast runs are, the boot arguments what the kernel does. */
function vmLines(vm: NonNullable<TargetFactsView['vm']>): FactLine[] {
  return [
    { label: 'VM kernel', value: `${vm.kernel} (${vm.memoryMb} MiB, ${vm.cpus} CPU${vm.cpus === 1 ? '' : 's'})`, ok: null, meaning: `Booted from ${vm.image}.` },
    { label: 'Accelerator', value: vm.accelerator, ok: vm.accelerator === 'kvm', meaning: vm.acceleratorWhy },
    { label: 'Boot arguments', value: vm.bootArgs.length ? vm.bootArgs.join(' ') : 'none', ok: null, meaning: `Kernel command line: ${vm.cmdline}` },
  ]
}

function mkfsMeaning(f: TargetFactsView): string {
  const can = (['ext4', 'xfs', 'btrfs'] as const).filter((k) => f.mkfs[k])
  return can.length ? `Also on loop devices: ${can.join(', ')}.` : 'Only the scratch filesystem (loop filesystems need root, losetup and mkfs tools).'
}
