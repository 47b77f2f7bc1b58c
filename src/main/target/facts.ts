/**
 * What a connect finds out about a target, in one command. Every missing piece becomes a note and a
 * reduced run (no trace, no perf counts, no loop filesystems), never a crash. As root, an
 * unmounted tracefs is mounted (and the note says so), as DESIGN.md asks.
 */
import type { TargetFacts } from './types'
import type { PtySession } from './session'

/** Where the kernel puts tracefs; the debugfs path is the pre-4.1 location. */
const TRACEFS = '/sys/kernel/tracing'
const TRACEFS_OLD = '/sys/kernel/debug/tracing'

const FACTS_SCRIPT = `
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif sudo -n true 2>/dev/null; then sudo -n "$@"; else return 126; fi; }
echo "kernel=$(uname -r)"
echo "arch=$(uname -m)"
echo "pagesize=$(getconf PAGESIZE 2>/dev/null || getconf PAGE_SIZE)"
echo "uid=$(id -u)"
if [ "$(id -u)" != 0 ] && sudo -n true 2>/dev/null; then echo sudo=1; else echo sudo=0; fi
tfs=
if [ -e ${TRACEFS}/trace_marker ]; then tfs=${TRACEFS}
elif [ -e ${TRACEFS_OLD}/trace_marker ]; then tfs=${TRACEFS_OLD}
elif [ -d ${TRACEFS} ] && as_root mount -t tracefs nodev ${TRACEFS} 2>/dev/null; then tfs=${TRACEFS}; echo tracefs_mounted=1
fi
echo "tracefs=$tfs"
if [ -n "$tfs" ] && as_root test -w "$tfs/instances" 2>/dev/null; then echo tracefs_writable=1; else echo tracefs_writable=0; fi
echo "paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null)"
echo "cc=$(command -v cc || command -v gcc || command -v clang)"
if [ -e /proc/fs/splice ]; then echo splicestats=1; else echo splicestats=0; fi
d="\${TMPDIR:-/tmp}"; echo "scratch=$d"
# The mount table names ext4; statfs's magic is shared by ext2/3/4 (stat -f says "ext2/ext3").
echo "scratchfs=$(findmnt -n -o FSTYPE -T "$d" 2>/dev/null || stat -f -c %T "$d" 2>/dev/null)"
echo "losetup=$(command -v losetup)"
for t in ext4 xfs btrfs; do echo "mkfs_$t=$(command -v mkfs.$t)"; done
true
`

export async function detectFacts(session: PtySession): Promise<TargetFacts> {
  const r = await session.exec(FACTS_SCRIPT, 30_000)
  const kv = new Map<string, string>()
  for (const line of r.output.split('\n')) {
    const i = line.indexOf('=')
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1).trim())
  }
  const get = (k: string): string => kv.get(k) ?? ''
  const notes: string[] = []
  const root = get('uid') === '0'
  const sudo = get('sudo') === '1'
  const privileged = root || sudo

  const tracefsPath = get('tracefs') || null
  const tracefsWritable = tracefsPath !== null && get('tracefs_writable') === '1'
  let tracefsWhy: string | undefined
  if (get('tracefs_mounted') === '1') notes.push(`tracefs was not mounted; mounted it at ${TRACEFS}`)
  if (!tracefsPath) tracefsWhy = privileged ? 'tracefs is not mounted and could not be mounted (kernel without CONFIG_TRACING?)' : `tracefs is not mounted and mounting it needs root (mount -t tracefs nodev ${TRACEFS})`
  else if (!tracefsWritable) tracefsWhy = `${tracefsPath}/instances is not writable: tracing needs root or passwordless sudo`
  if (tracefsWhy) notes.push(`no trace: ${tracefsWhy}`)

  const paranoidText = get('paranoid')
  const paranoid = paranoidText === '' ? null : Number(paranoidText)
  // Counting tracepoints with perf_event_open needs CAP_PERFMON (root) or perf_event_paranoid = -1
  // (kernel/events/core.c, perf_allow_tracepoint()).
  const perfAvailable = paranoid !== null && (root || paranoid <= -1)
  const perfWhy = paranoid === null ? 'the kernel has no perf_event_open (/proc/sys/kernel/perf_event_paranoid missing)' : perfAvailable ? undefined : `perf_event_paranoid is ${paranoid}: counting tracepoints needs root or perf_event_paranoid = -1`
  if (perfWhy) notes.push(`no tracepoint counts from the probe: ${perfWhy}`)

  const cc = get('cc') || null
  const ccWhy = cc ? undefined : 'no C compiler (cc, gcc or clang) on the target: install one, e.g. `apt install gcc libc6-dev` or `dnf install gcc glibc-devel`'
  if (ccWhy) notes.push(ccWhy)

  const spliceStats = get('splicestats') === '1'
  if (!spliceStats) notes.push('no /proc/fs/splice (stock kernel): steal/copy counts are inferred from tracepoints')

  const loop = privileged && get('losetup') !== ''
  const mkfs: TargetFacts['mkfs'] = {}
  for (const t of ['ext4', 'xfs', 'btrfs'] as const) mkfs[t] = loop && get(`mkfs_${t}`) !== ''
  if (!privileged) notes.push('not root and no passwordless sudo: only tmpfs or a given --dir can be used')

  const pageSize = Number(get('pagesize'))
  return {
    kernel: get('kernel'),
    arch: get('arch'),
    pageSize: Number.isFinite(pageSize) && pageSize > 0 ? pageSize : 4096,
    root,
    sudo,
    tracefs: { path: tracefsPath, writable: tracefsWritable, why: tracefsWhy },
    perf: { available: perfAvailable, paranoid, why: perfWhy },
    compiler: { path: cc, why: ccWhy },
    spliceStats,
    scratch: { dir: get('scratch') || '/tmp', fs: get('scratchfs') || 'unknown' },
    mkfs,
    notes,
  }
}
