/**
 * Runs that go wrong: each ends with a clear message, keeps what was done, and leaves the target
 * clean (no scratch mounts, no loop devices, no run directories).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectTarget } from '../../src/main/target'
import { Lab } from '../../src/main/lab/lab'
import { cleanStaleScratch } from '../../src/main/lab/scratch'
import { leftovers, longLoop, runSkipReason, testRunId, useLocalLab, writeAfterSplice } from './fixtures/lab'
import { noCompilerPath } from './fixtures/nocc'
import { startSshd, sshdAvailable, freePort, type SshdFixture } from './fixtures/sshd'

const skip = runSkipReason()

/** The run's directory, from the run's own log line. */
function runDirOf(message: string): string | null {
  return /the run's files are in (\S+)$/.exec(message)?.[1] ?? null
}

describe.skipIf(skip !== null)(`failed runs${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const local = useLocalLab('failures', { records: true })

  it('a probe killed mid-run: clear error, the ops it had done are kept, the target is clean', async () => {
    const runId = testRunId('killed')
    let killed = false
    let killError = ''
    let runDir: string | null = null
    const record = await local.lab.run(longLoop, {
      fs: 'tmpfs',
      runId,
      onEvent: (e) => {
        if (e.type === 'log') runDir ??= runDirOf(e.message)
        if (e.type === 'op' && !killed) {
          killed = true
          // Something the kernel logs while the run goes: the record of a failed run keeps it.
          execFileSync('sh', ['-c', `echo 'splice-lab-test: ${runId} during the run' > /dev/kmsg`])
          // The probe wrote its pid next to its program: kill exactly that process.
          const pidFile = join(runDir!, 'probe.pid')
          setTimeout(() => {
            try {
              execFileSync('sh', ['-c', `kill -KILL "$(cat ${pidFile})"`])
            } catch (err) {
              killError = String(err)
            }
          }, 200)
        }
      },
    })
    expect(killed).toBe(true)
    expect(killError).toBe('')
    expect(record.error?.code).toBe('probe')
    expect(record.error?.message).toMatch(/killed by signal 9/)
    expect(record.observation.incomplete?.reason).toMatch(/killed by signal 9/)
    expect(record.observation.ops.length).toBeGreaterThanOrEqual(1)
    expect(record.observation.ops[0]!.op).toBe('splice')
    expect(record.comparison.verdict.summary).toMatch(/did not finish/)
    expect(record.kernelLog).toContain(`splice-lab-test: ${runId} during the run`)
    // From after the run's own mark (other lines of the machine may be there too: the log is the kernel's).
    expect(record.kernelLog).not.toContain(`run ${runId} starts its probe`)
    // The run's files are gone; the scratch mount stays for the next run until the lab closes.
    expect(existsSync(record.dir)).toBe(false)
  })

  it('a scratch directory that is not writable (read-only tmpfs, as root): clear error, predictions kept', async () => {
    const ro = mkdtempSync(join(tmpdir(), 'splice-lab-ro-'))
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'splice-lab-ro', ro])
    try {
      const record = await local.lab.run(writeAfterSplice, { dir: ro })
      expect(record.error?.code).toBe('scratch')
      expect(record.error?.message).toMatch(new RegExp(`scratch directory ${ro} is not writable`))
      expect(record.fs).toBe('tmpfs')
      expect(record.predictions.stock.ops.length).toBe(3)
      expect(record.observation.ops).toEqual([])
    } finally {
      execFileSync('umount', [ro])
      rmSync(ro, { recursive: true, force: true })
    }
  })

  it('no C compiler on the target: says what to install', async () => {
    const bin = noCompilerPath()
    const t = await Lab.open(await connectTarget({ kind: 'local', env: { PATH: bin } }), { records: null })
    try {
      const record = await t.run(writeAfterSplice, { fs: 'tmpfs', runId: testRunId('nocc') })
      expect(record.error?.code).toBe('no-compiler')
      expect(record.error?.message).toMatch(/apt install gcc libc6-dev/)
      expect(record.predictions.stock.ops.length).toBe(3)
    } finally {
      await t.dispose()
      rmSync(bin, { recursive: true, force: true })
    }
  })

  it('cancelling through the AbortSignal stops the probe and leaves the target clean', async () => {
    const ac = new AbortController()
    const record = await local.lab.run(longLoop, {
      fs: 'tmpfs',
      signal: ac.signal,
      runId: testRunId('cancel'),
      onEvent: (e) => {
        if (e.type === 'op') setTimeout(() => ac.abort(), 100)
      },
    })
    expect(record.error?.message).toMatch(/cancelled/)
    expect(record.error?.code).toBe('cancelled')
    // Asked to stop (SIGTERM), the probe stopped by itself rather than being killed.
    expect(record.observation.incomplete?.reason).toMatch(/^the run was cancelled \(the probe ended: sigterm \(143\)\)/)
    expect(record.observation.ops.length).toBeGreaterThanOrEqual(1)
    expect(existsSync(record.dir)).toBe(false)
  })
})

describe.skipIf(skip !== null || (!sshdAvailable() && process.env.CI !== 'true'))('runs over ssh', () => {
  let sshd: SshdFixture
  beforeAll(async () => {
    sshd = await startSshd()
  })
  afterAll(async () => {
    await sshd?.stop()
    expect(leftovers()).toEqual([])
  })

  it('runs a scenario through ssh://root@127.0.0.1:PORT with the host key checked, and stock agrees', async () => {
    const t = await Lab.open(await connectTarget(sshd.spec), { records: null })
    try {
      const record = await t.run(writeAfterSplice, { fs: 'tmpfs', runId: testRunId('ssh') })
      expect(record.error, record.error?.message).toBeUndefined()
      expect(record.target.label).toBe(`ssh://root@127.0.0.1:${sshd.port}`)
      expect(record.comparison.verdict.perPolicy.stock.disagree).toBe(0)
      expect(record.comparison.verdict.behavesLike).toBe('stock')
    } finally {
      await t.dispose()
    }
  })

  it('a connection lost mid-run: clear error, the ops done are kept, the next connect removes the scratch', async () => {
    const runId = testRunId('dropped')
    const t = await Lab.open(await connectTarget(sshd.spec), { records: null, scratchId: runId })
    let dropped = false
    let told: string | null = null
    t.onDisconnect((reason) => (told = reason))
    try {
      const record = await t.run(longLoop, {
        fs: 'tmpfs',
        runId,
        onEvent: (e) => {
          if (e.type === 'op' && !dropped) {
            dropped = true
            // Kill the sshd processes serving this test's connections (children of the fixture's sshd).
            setTimeout(() => execFileSync('sh', ['-c', `pkill -KILL -P ${sshd.pid}; true`]), 200)
          }
        },
      })
      expect(dropped).toBe(true)
      expect(record.error?.code).toBe('disconnected')
      expect(record.error?.message).toMatch(new RegExp(`the session to ssh://root@127.0.0.1:${sshd.port} ended \\(ssh exited with status \\d+: the connection was lost\\) while the run was going`))
      expect(record.observation.ops.length).toBeGreaterThanOrEqual(1)
      expect(record.observation.ops[0]!.op).toBe('splice')
      expect(record.observation.incomplete?.reason).toBe(record.error?.message)
      expect(told).toMatch(/the connection was lost/)
      expect(t.disconnected).toBe(told)
    } finally {
      await t.dispose()
    }
    const again = await connectTarget(sshd.spec)
    try {
      const until = Date.now() + 10_000
      let removed: string[] = []
      // The dropped session's shell may take a moment to be reaped before its scratch counts as stale.
      while (!removed.some((r) => r.includes(runId)) && Date.now() < until) {
        removed = await cleanStaleScratch(again)
        if (!removed.some((r) => r.includes(runId))) await new Promise((r) => setTimeout(r, 300))
      }
      expect(removed.some((r) => r.includes(runId))).toBe(true)
    } finally {
      await again.dispose()
    }
    expect(leftovers(runId)).toEqual([])
  })

  it('refuses a wrong host key and a closed port through the CLI, with clear messages and exit 1', async () => {
    const cli = (args: string[]): { code: number; stderr: string } => {
      try {
        execFileSync('npx', ['tsx', 'src/main/cli/index.ts', 'run', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 })
        return { code: 0, stderr: '' }
      } catch (e) {
        const err = e as { status: number; stderr: string }
        return { code: err.status, stderr: err.stderr }
      }
    }
    const wrong = cli(['--target', `ssh://root@127.0.0.1:${sshd.port}`, '--identity', sshd.identity, '--known-hosts', sshd.wrongKnownHosts, 'write-after-splice'])
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toMatch(/host key mismatch/)
    const closed = cli(['--target', `ssh://root@127.0.0.1:${await freePort()}`, '--identity', sshd.identity, '--known-hosts', sshd.knownHosts, 'write-after-splice'])
    expect(closed.code).toBe(1)
    expect(closed.stderr).toMatch(/connection refused/)
  })
})
