/**
 * The guest's initramfs, made by the lab on the host and cached by the hash of everything in it:
 * Debian's static busybox (init and the tools), a few of the host's own tools where busybox's
 * behave differently (HOST_TOOLS, with the libraries ldd names), the probe and the stream daemon
 * and the tracepipe helper compiled here as static binaries (the guest has no compiler), and the
 * scripts of guest.ts.
 */
import { createHash } from 'node:crypto'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { existsSync, realpathSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { cacheDir } from '../../paths'
import { resourcePath } from '../../lab/resources'
import { PROBE_CFLAGS, readProbeSource } from '../../lab/probe-build'
import { buildTracepipeOnHost } from '../../lab/trace-raw'
import { cpioNewc, type CpioEntry } from './cpio'
import { GROUP, GUEST_HOME, INITTAB, PASSWD, PORTD_PATH, SETUP, TRACEPIPE_PATH, consoleScript } from './guest'

/** Part of the cache key: bump when the layout changes in a way the inputs do not show. */
const LAYOUT_VERSION = 2

/**
 * The host's tools that replace busybox's in the guest, and why:
 * - bash: the console runs the same shell as a local or ssh session (session.ts), so framing,
 *   uploads and facts behave the same (busybox's ash ends a non-interactive shell on a syntax error
 *   inside eval);
 * - cat: busybox's cat copies with sendfile(), which on trace_pipe goes through
 *   tracing_splice_read_pipe() and, into a pipe, held events back until later ones came (Linux
 *   6.1 under TCG: every other trace_marker write seen seconds late); read()/write() does not;
 * - stat: busybox's `stat -f -c %T` names btrfs "UNKNOWN";
 * - getconf: the facts read the page size with it (busybox has none).
 */
const HOST_TOOLS = ['bash', 'cat', 'stat', 'getconf'] as const
const PORTD_CFLAGS = ['-O2', '-Wall', '-static']

export class InitramfsError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'InitramfsError'
  }
}

export interface InitramfsOptions {
  /** Where built images are kept. Default cacheDir()/vm. */
  cacheDir?: string
  /** Default /bin/busybox (Debian's busybox-static). */
  busybox?: string
  /** C compiler for the static builds. Default gcc. */
  cc?: string
  /** The probe's source directory. Default resources/probe. */
  probeDir?: string
}

export interface Initramfs {
  /** The .cpio.gz on the host. */
  path: string
  hash: string
  /** Where the probe is in the guest. */
  probePath: string
  /** The probe's source hash (the same as buildProbe's). */
  probeHash: string
  /** Where the tracepipe helper (resources/tracepipe) is in the guest. */
  tracepipePath: string
  /** False when the cached image was used. */
  built: boolean
}

/** The cached initramfs for these inputs, built first when there is none. */
export async function ensureInitramfs(o: InitramfsOptions = {}): Promise<Initramfs> {
  const busyboxPath = o.busybox ?? '/bin/busybox'
  if (!existsSync(busyboxPath)) throw new InitramfsError(`no ${busyboxPath}: the guest's tools come from a static busybox (Debian: apt install busybox-static)`)
  const cc = o.cc ?? 'gcc'
  const probe = await readProbeSource(o.probeDir)
  const portdSource = await readFile(resourcePath('vm/portd.c'))
  const tracepipeSource = await readFile(resourcePath('tracepipe/tracepipe.c'))
  const busybox = await hostBinary(busyboxPath)
  const tools = await Promise.all(HOST_TOOLS.map(async (name) => ({ name, files: await hostBinary(await which(name)) })))
  const scripts = { INITTAB, SETUP, console: consoleScript(), PASSWD, GROUP }

  const h = createHash('sha256').update(`layout ${LAYOUT_VERSION}\0probe ${probe.hash}\0portd ${PORTD_CFLAGS.join(' ')}\0`).update(portdSource).update(tracepipeSource)
  for (const f of [...busybox, ...tools.flatMap((t) => t.files)]) h.update(f.path).update('\0').update(f.data)
  h.update(JSON.stringify(scripts))
  const hash = h.digest('hex').slice(0, 16)
  const dir = o.cacheDir ?? join(cacheDir(), 'vm')
  const path = join(dir, `initramfs-${hash}.cpio.gz`)
  const probePath = `${GUEST_HOME}/.cache/splice-lab/probe-${probe.hash}/probe`
  const found = { path, hash, probePath, probeHash: probe.hash, tracepipePath: TRACEPIPE_PATH }
  if (existsSync(path)) return { ...found, built: false }

  const work = await mkdtemp(join(tmpdir(), 'splice-lab-initramfs-'))
  try {
    for (const f of probe.files) await writeFile(join(work, f.name), f.content)
    await writeFile(join(work, 'portd.c'), portdSource)
    const probeC = probe.files.filter((f) => f.name.endsWith('.c')).map((f) => join(work, f.name))
    await compile(cc, [...PROBE_CFLAGS, '-static', '-o', join(work, 'probe'), ...probeC], 'the probe')
    await compile(cc, [...PORTD_CFLAGS, '-o', join(work, 'portd'), join(work, 'portd.c')], 'the stream daemon')
    await buildTracepipeOnHost(join(work, 'tracepipe'), cc).catch((e: unknown) => {
      throw new InitramfsError(`${(e as Error).message} (a static build needs the C library archive: apt install libc6-dev)`)
    })

    const entries: CpioEntry[] = [
      { path: 'dev', type: 'dir' },
      // The kernel opens /dev/console for init before anything is mounted (init/main.c).
      { path: 'dev/console', type: 'char', major: 5, minor: 1 },
      ...['proc', 'sys', 'tmp', 'mnt', 'run', 'root'].map((p) => ({ path: p, type: 'dir' as const })),
      { path: 'bin/busybox', type: 'file', data: busybox[0]!.data, mode: 0o755 },
      ...(await busyboxApplets(busyboxPath))
        .filter((a) => a !== 'busybox' && !(HOST_TOOLS as readonly string[]).includes(a))
        .map((a) => ({ path: `bin/${a}`, type: 'symlink' as const, target: 'busybox' })),
      { path: 'init', type: 'symlink', target: 'bin/busybox' },
      ...sharedLibraries([...busybox.slice(1), ...tools.flatMap((t) => t.files.slice(1))]),
      ...tools.map((t) => ({ path: `bin/${t.name}`, type: 'file' as const, data: t.files[0]!.data, mode: 0o755 })),
      { path: 'etc/inittab', type: 'file', data: Buffer.from(INITTAB), mode: 0o644 },
      { path: 'etc/passwd', type: 'file', data: Buffer.from(PASSWD), mode: 0o644 },
      { path: 'etc/group', type: 'file', data: Buffer.from(GROUP), mode: 0o644 },
      { path: 'splab/setup', type: 'file', data: Buffer.from(SETUP), mode: 0o755 },
      { path: 'splab/console', type: 'file', data: Buffer.from(scripts.console), mode: 0o755 },
      { path: PORTD_PATH.slice(1), type: 'file', data: await readFile(join(work, 'portd')), mode: 0o755 },
      { path: probePath.slice(1), type: 'file', data: await readFile(join(work, 'probe')), mode: 0o755 },
      { path: TRACEPIPE_PATH.slice(1), type: 'file', data: await readFile(join(work, 'tracepipe')), mode: 0o755 },
    ]
    const image = gzipSync(cpioNewc(entries), { level: 6 })
    await mkdir(dir, { recursive: true })
    const tmp = `${path}.tmp-${process.pid}`
    await writeFile(tmp, image)
    await rename(tmp, path)
    return { ...found, built: true }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

interface HostFile {
  /** Absolute path the guest will find it at. */
  path: string
  data: Buffer
}

/** A host executable and the shared libraries it loads (none for a static one), as ldd lists them. */
async function hostBinary(path: string): Promise<HostFile[]> {
  const data = await readFile(path).catch(() => {
    throw new InitramfsError(`cannot read ${path} for the guest`)
  })
  const out = await run('ldd', [path]).catch((e: { stdout?: string; message: string }) => e.stdout ?? '')
  const libs: HostFile[] = []
  for (const line of out.split('\n')) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line)
    if (!m) continue
    libs.push({ path: m[1]!, data: await readFile(realpathSync(m[1]!)) })
  }
  return [{ path, data }, ...libs]
}

function sharedLibraries(files: HostFile[]): CpioEntry[] {
  const seen = new Set<string>()
  const out: CpioEntry[] = []
  for (const f of files) {
    if (seen.has(f.path)) continue
    seen.add(f.path)
    out.push({ path: f.path.slice(1), type: 'file', data: f.data, mode: 0o755 })
  }
  return out
}

async function busyboxApplets(busybox: string): Promise<string[]> {
  const out = await run(busybox, ['--list'])
  return out.split('\n').map((s) => s.trim()).filter((s) => /^[\w.[\]-]+$/.test(s))
}

async function compile(cc: string, args: string[], what: string): Promise<void> {
  try {
    await run(cc, args, 180_000)
  } catch (e) {
    const err = e as { code?: string; stderr?: string; message: string }
    if (err.code === 'ENOENT') throw new InitramfsError(`cannot compile ${what} for the guest: no ${cc} on this machine (apt install gcc libc6-dev)`)
    const text = (err.stderr ?? err.message).trim()
    const hint = /cannot find -lc|static/.test(text) ? ' (a static build needs the C library archive: apt install libc6-dev)' : ''
    throw new InitramfsError(`${what} did not compile as a static binary for the guest${hint}:\n${text}`)
  }
}

async function which(name: string): Promise<string> {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const p = join(dir, name)
    if (dir && (await stat(p).catch(() => null))?.isFile()) return p
  }
  throw new InitramfsError(`no ${name} on this machine for the guest's console`)
}

function run(file: string, args: string[], timeout = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stdout, stderr }))
      else resolve(stdout)
    })
  })
}
