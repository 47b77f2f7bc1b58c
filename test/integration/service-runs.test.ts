/**
 * Runs through the app's API service (the path the Electron app and the lab server take), on this
 * machine's real kernel and over real ssh: scratch made once and reused, stale scratch removed at
 * connect, and a target whose sshd dies mid-run shown as disconnected with the run's partial record
 * kept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { LabService } from '../../src/main/api/service'
import type { EventName, EventPayloads, TargetState } from '../../src/shared/api'
import type { RunEvent, RunRecord } from '../../src/shared/run/types'
import { SCRATCH_PREFIX } from '../../src/main/lab/scratch'
import { LONG_LOOP_TEXT, leftovers, runSkipReason, useLabHome } from './fixtures/lab'
import { startSshd, sshdAvailable, type SshdFixture } from './fixtures/sshd'

const skip = runSkipReason()

interface Seen {
  runEvents: RunEvent[]
  states: TargetState[]
}

function newService(options: ConstructorParameters<typeof LabService>[1] = {}): { service: LabService; seen: Seen } {
  const seen: Seen = { runEvents: [], states: [] }
  const emit = <E extends EventName>(name: E, payload: EventPayloads[E]): void => {
    if (name === 'onRunEvent') seen.runEvents.push(payload as RunEvent)
    if (name === 'onTargetStatus') seen.states.push(payload as TargetState)
  }
  return { service: new LabService(emit, options), seen }
}

async function until<T>(what: string, get: () => T | undefined, ms = 120_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = get()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const finished = (seen: Seen, runId: string): RunRecord | undefined => seen.runEvents.find((e): e is Extract<RunEvent, { type: 'finished' }> => e.type === 'finished' && e.runId === runId)?.record

/** Mounts under a scratch base, from /proc/mounts. */
const mountsUnder = (base: string): string[] =>
  readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(`${base}/`))

useLabHome()

describe.skipIf(skip !== null)(`the app's runs on this machine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  afterAll(() => expect(leftovers()).toEqual([]))

  it('removes stale scratch at connect, then makes one scratch mount and reuses it for two runs', async () => {
    // Scratch a crashed session left behind: its owner is a process that has exited, a mount inside.
    const stale = `${SCRATCH_PREFIX}stale-${process.pid}`
    mkdirSync(`${stale}/tmpfs`, { recursive: true })
    writeFileSync(`${stale}/owner`, String(spawnSync('true').pid))
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'splice-lab-stale-test', `${stale}/tmpfs`])
    const { service, seen } = newService()
    try {
      const t = await service.handlers.saveTarget({ kind: 'local', name: 'here' })
      const state = await service.handlers.connectTarget({ id: t.config.id })
      expect(state.status, state.message).toBe('connected')
      expect(existsSync(stale)).toBe(false)
      expect(mountsUnder(stale)).toEqual([])

      const preset = (await service.handlers.listPresets(undefined)).find((p) => p.name === 'write-after-splice')!
      const records: RunRecord[] = []
      for (let i = 0; i < 2; i++) {
        const { runId } = await service.handlers.startRun({ targetId: t.config.id, scenarioText: preset.text, source: 'write-after-splice', fs: 'tmpfs' })
        records.push(await until(`run ${runId}`, () => finished(seen, runId)))
      }
      for (const r of records) expect(r.error, r.error?.message).toBeUndefined()
      const bases = records.map((r) => r.dir.replace(/\/tmpfs\/splice-lab-run-[^/]+$/, ''))
      expect(bases[0]).toMatch(new RegExp(`^${SCRATCH_PREFIX}lab-${process.pid}-`))
      expect(bases[1]).toBe(bases[0])
      // One tmpfs for both runs, made once: the second run logged no mount of its own.
      expect(mountsUnder(bases[0]!)).toEqual([`${bases[0]}/tmpfs`])
      // Both records are in the app's store.
      expect((await service.handlers.listRuns(undefined)).map((r) => r.id).sort()).toEqual(records.map((r) => r.id).sort())
      await service.dispose()
      expect(existsSync(bases[0]!)).toBe(false)
    } finally {
      await service.dispose()
      if (existsSync(stale)) {
        spawnSync('umount', ['-l', `${stale}/tmpfs`])
        rmSync(stale, { recursive: true, force: true })
      }
    }
  })
})

describe.skipIf(skip !== null || (!sshdAvailable() && process.env.CI !== 'true'))("the app's ssh target when its sshd dies mid-run", () => {
  let sshd: SshdFixture
  beforeAll(async () => {
    sshd = await startSshd()
  })
  afterAll(async () => {
    await sshd?.stop()
    expect(leftovers()).toEqual([])
  })

  it('ends the run with a clear error, keeps the partial record, and shows the target disconnected with the reason', async () => {
    const { service, seen } = newService({ sshKnownHosts: sshd.knownHosts })
    try {
      const t = await service.handlers.saveTarget({ kind: 'ssh', name: 'test sshd', host: '127.0.0.1', user: 'root', port: sshd.port, identityFile: sshd.identity })
      const id = t.config.id
      expect((await service.handlers.connectTarget({ id })).status).toBe('connected')
      const { runId } = await service.handlers.startRun({ targetId: id, scenarioText: LONG_LOOP_TEXT, source: 'long-loop', fs: 'tmpfs' })
      await until('the first op', () => seen.runEvents.find((e) => e.type === 'op' && e.runId === runId))
      // Kill the sshd processes serving this connection (children of the fixture's listening sshd).
      execFileSync('sh', ['-c', `pkill -KILL -P ${sshd.pid}; true`])

      const record = await until(`run ${runId}`, () => finished(seen, runId), 60_000)
      const label = `ssh://root@127.0.0.1:${sshd.port}`
      expect(record.error?.code).toBe('disconnected')
      expect(record.error?.message).toBe(`the session to ${label} ended (ssh exited with status 255: the connection was lost) while the run was going`)
      expect(record.observation.ops.length).toBeGreaterThanOrEqual(1)
      expect(record.observation.ops[0]!.op).toBe('splice')
      expect(record.observation.incomplete?.reason).toBe(record.error?.message)
      expect(record.comparison.verdict.summary).toMatch(/did not finish/)

      const reason = `the session to ${label} ended (ssh exited with status 255: the connection was lost)`
      const shown = await until('the disconnected state', () => seen.states.find((s) => s.config.id === id && s.status === 'disconnected' && s.message))
      expect(shown.message).toBe(reason)
      const listed = (await service.handlers.listTargets(undefined)).find((s) => s.config.id === id)!
      expect(listed).toMatchObject({ status: 'disconnected', message: reason })
      // The partial record was saved where the app reads its history.
      expect((await service.handlers.getRun({ id: runId })).observation.ops.length).toBe(record.observation.ops.length)
      await expect(service.handlers.startRun({ targetId: id, scenarioText: LONG_LOOP_TEXT, source: 'long-loop' })).rejects.toThrow(`connect "test sshd" first`)

      // Connecting again removes the scratch the dropped session left, once its shell has gone.
      const left = record.dir.replace(/\/tmpfs\/splice-lab-run-[^/]+$/, '')
      const owner = readFileSync(`${left}/owner`, 'utf8').trim()
      await until(`the dropped session's shell (pid ${owner}) to end`, () => (spawnSync('kill', ['-0', owner]).status !== 0 ? true : undefined), 20_000)
      expect((await service.handlers.connectTarget({ id })).status).toBe('connected')
      expect(existsSync(left)).toBe(false)
    } finally {
      await service.dispose()
    }
  })
})
