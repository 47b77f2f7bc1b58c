/**
 * Running kbuild: the config steps, and `make bzImage` with its output turned into progress (phase
 * and the number of objects compiled so far) and kept in a log file beside the tree.
 */
import { execFile, spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'
import { checkConfig, formatConfigProblems, parseFragment } from './config'
import { StoreError } from './store'

const run = promisify(execFile)

/** make runs under `nice -n NICE`: a kernel build should not starve the app or other runs. */
export const NICE = 10
/** Lines of make's output shown when it fails (the whole output is in the log file). */
const TAIL_LINES = 40

/** tinyconfig, the fragment merged in, olddefconfig; then the check that every request holds. */
export async function configure(tree: string, fragmentPath: string, fragmentText: string): Promise<number> {
  const steps: [string, string[]][] = [
    ['make', ['tinyconfig']],
    ['scripts/kconfig/merge_config.sh', ['-m', '.config', fragmentPath]],
    ['make', ['olddefconfig']],
  ]
  for (const [cmd, args] of steps) {
    try {
      await run(cmd, args, { cwd: tree, maxBuffer: 1 << 26 })
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; message: string }
      throw new StoreError(`kernel config: \`${cmd} ${args.join(' ')}\` failed in ${tree}:\n${(err.stderr || err.stdout || err.message).trim()}`)
    }
  }
  return verifyConfig(tree, fragmentText)
}

/** Checks the tree's .config against the fragment; returns how many options were checked. */
export async function verifyConfig(tree: string, fragmentText: string): Promise<number> {
  const requests = parseFragment(fragmentText)
  const problems = checkConfig(requests, await readFile(join(tree, '.config'), 'utf8'))
  if (problems.length) throw new StoreError(formatConfigProblems(problems))
  return requests.length
}

export type MakePhase = 'compile' | 'link'

/** What one line of kbuild's output says: an object compiled, or the link started. */
export function classifyLine(line: string): 'object' | 'link' | null {
  if (/^\s{2}(CC|AS)\s+\S+\.o$/.test(line)) return 'object'
  if (/^\s{2}(LD|KSYMS|BUILD)\s+(\.tmp_)?vmlinux|^\s{2}BUILD\s+arch\/\S+\/bzImage/.test(line)) return 'link'
  return null
}

export interface MakeProgress {
  phase: MakePhase
  objects: number
}

/** `nice make -jN bzImage` in the tree; resolves with the number of objects compiled. */
export function makeBzImage(tree: string, jobs: number, logPath: string, onProgress: (p: MakeProgress) => void): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const log = createWriteStream(logPath)
    const child = spawn('nice', ['-n', String(NICE), 'make', `-j${jobs}`, 'bzImage'], { cwd: tree, stdio: ['ignore', 'pipe', 'pipe'] })
    const tail: string[] = []
    let objects = 0
    let phase: MakePhase = 'compile'
    const onLine = (line: string): void => {
      log.write(line + '\n')
      tail.push(line)
      if (tail.length > TAIL_LINES) tail.shift()
      const kind = classifyLine(line)
      if (kind === 'object') objects++
      if (kind === 'link') phase = 'link'
      if (kind) onProgress({ phase, objects })
    }
    createInterface({ input: child.stdout }).on('line', onLine)
    createInterface({ input: child.stderr }).on('line', onLine)
    child.on('error', (e) => {
      log.end()
      reject(new StoreError(`cannot run make: ${e.message}`))
    })
    child.on('close', (code, signal) => {
      log.end()
      if (code === 0) resolvePromise(objects)
      else reject(new StoreError(`make bzImage failed (${signal ?? `exit ${code}`}) in ${tree}; the last lines (all of it in ${logPath}):\n${tail.join('\n')}`))
    })
  })
}

/** `make -s kernelrelease`: the version the kernel reports (uname -r). */
export async function kernelRelease(tree: string): Promise<string> {
  const { stdout } = await run('make', ['-s', 'kernelrelease'], { cwd: tree })
  return stdout.trim()
}

/** Debian packages that provide what kbuild needs, by the command or header that shows them. */
const DEPS: [string, string][] = [
  ['make', 'make'], ['gcc', 'gcc'], ['flex', 'flex'], ['bison', 'bison'], ['bc', 'bc'], ['patch', 'patch'],
  ['/usr/include/libelf.h', 'libelf-dev'], ['/usr/include/openssl/opensslv.h', 'libssl-dev'],
]

/** The Debian packages missing for a build, checked before anything is unpacked. */
export async function missingBuildDeps(): Promise<string[]> {
  const missing: string[] = []
  for (const [what, pkg] of DEPS) {
    const test = what.startsWith('/') ? `test -e "$1"` : `command -v "$1" >/dev/null`
    try {
      await run('sh', ['-c', test, 'dep', what])
    } catch {
      missing.push(pkg)
    }
  }
  return missing
}
