import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dispatch } from '../../shared/api'
import type { RunEvent } from '../../shared/run/types'
import { LIVE_SERIES } from '../../shared/vocabulary'
import { LabService, targetSpecOf } from './service'

let home: string
const saved = process.env.SPLICE_LAB_HOME
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'splice-lab-service-'))
  process.env.SPLICE_LAB_HOME = home
})
afterEach(async () => {
  process.env.SPLICE_LAB_HOME = saved
  await rm(home, { recursive: true, force: true })
})

const quiet = (): LabService => new LabService(() => {})

describe('LabService targets', () => {
  it('persists added targets in configDir()/targets.json and reads them back in a new service', async () => {
    const a = quiet()
    const added = await a.handlers.saveTarget({ kind: 'ssh', name: 'test box', host: 'testbox', port: 2222 })
    expect(added.status).toBe('disconnected')
    const file = JSON.parse(await readFile(join(home, 'config', 'targets.json'), 'utf8'))
    expect(file).toEqual([{ kind: 'ssh', name: 'test box', host: 'testbox', port: 2222, id: added.config.id }])
    const b = quiet()
    expect((await b.handlers.listTargets(undefined)).map((t) => t.config.name)).toEqual(['test box'])
    await b.handlers.removeTarget({ id: added.config.id })
    expect(await quiet().handlers.listTargets(undefined)).toEqual([])
  })

  it('round-trips a VM target through targets.json and connects it as the CLI does vm:<kernel> --boot-arg --memory', async () => {
    const a = quiet()
    const added = await a.handlers.saveTarget({ kind: 'vm', name: 'fix kernel', kernel: 'no-such-kernel', bootArgs: ['nokaslr'], memoryMb: 512 })
    const file = JSON.parse(await readFile(join(home, 'config', 'targets.json'), 'utf8'))
    expect(file).toEqual([{ kind: 'vm', name: 'fix kernel', kernel: 'no-such-kernel', bootArgs: ['nokaslr'], memoryMb: 512, id: added.config.id }])
    const b = quiet()
    const [back] = await b.handlers.listTargets(undefined)
    expect(back!.config).toEqual(added.config)
    expect(targetSpecOf(back!.config)).toEqual({ kind: 'vm', kernel: 'no-such-kernel', bootArgs: ['nokaslr'], memoryMb: 512 })
    // The kernel is not in this (empty) store: the connect fails before qemu starts, saying how to get one.
    const r = await b.handlers.connectTarget({ id: added.config.id })
    expect(r.status).toBe('error')
    expect(r.message).toMatch(/no-such-kernel/)
  })

  it('skips a hand-edited entry that does not validate, keeping the others', async () => {
    await mkdir(join(home, 'config'), { recursive: true })
    await writeFile(join(home, 'config', 'targets.json'), JSON.stringify([{ id: 'ok1', name: 'here', kind: 'local' }, { id: 'bad', name: 'x', kind: 'ssh', host: '-oProxyCommand=id' }]))
    const list = await quiet().handlers.listTargets(undefined)
    expect(list.map((t) => t.config.id)).toEqual(['ok1'])
  })

  it('refuses terminal input and runs on a target that is not connected, saying what to do', async () => {
    const s = quiet()
    const t = await s.handlers.saveTarget({ kind: 'local', name: 'here' })
    const r = await dispatch(s.handlers, 'startRun', { targetId: t.config.id, scenarioText: 'name: x' })
    expect(r).toEqual({ ok: false, error: { code: 'not-connected', message: 'connect "here" first' } })
    expect((await dispatch(s.handlers, 'writeTerminal', { id: t.config.id, data: 'ls\n' })).ok).toBe(false)
  })

  it('says a run record is not found rather than failing vaguely', async () => {
    const r = await dispatch(quiet().handlers, 'getRun', { id: 'nope' })
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error.code).toBe('not-found')
  })

  it('streams synthetic buckets only when built for the benchmark', async () => {
    const refused = await dispatch(quiet().handlers, 'benchInject', { eventsPerSecond: 1000, durationMs: 150 })
    expect(refused).toEqual({ ok: false, error: { code: 'refused', message: 'benchInject is for npm run bench:ui only (splice-lab serve --bench)' } })

    const events: RunEvent[] = []
    const s = new LabService((name, payload) => {
      if (name === 'onRunEvent') events.push(payload as RunEvent)
    }, { bench: true })
    const { runId } = await s.handlers.benchInject({ eventsPerSecond: 10_000, durationMs: 300 })
    expect(runId).toMatch(/^bench-\d{8}T\d{6}-[0-9a-f]{6}$/)
    await new Promise((r) => setTimeout(r, 700))
    await s.dispose()
    expect(events.every((e) => e.runId === runId)).toBe(true)
    expect(events[0]).toMatchObject({ type: 'phase', phase: 'trace' })
    expect(events.at(-1)).toMatchObject({ type: 'phase', phase: 'done', message: 'synthetic stream ended' })
    const buckets = events.flatMap((e) => (e.type === 'trace' ? e.buckets : []))
    // 10 000 events/s for 300 ms, 64 bytes an event (SYNTHETIC_BYTES_PER_EVENT): about 3 000 events.
    const total = buckets.reduce((n, b) => n + b.counts.bytes / 64, 0)
    expect(total).toBeGreaterThanOrEqual(2000)
    expect(total).toBeLessThanOrEqual(4500)
    for (const b of buckets) expect(Object.keys(b.counts).sort()).toEqual([...LIVE_SERIES].sort())
    // Bucket times are wall-clock ms since the stream began, in order.
    expect(buckets.map((b) => b.t)).toEqual([...buckets.map((b) => b.t)].sort((a, b) => a - b))
    expect(buckets.at(-1)!.t).toBeGreaterThanOrEqual(250)
  })
})
