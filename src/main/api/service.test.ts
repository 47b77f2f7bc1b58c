import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dispatch, type EventName } from '../../shared/api'
import { LabService } from './service'

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
    const events: EventName[] = []
    const s = new LabService((name) => void events.push(name), { bench: true })
    await s.handlers.benchInject({ eventsPerSecond: 1000, durationMs: 150 })
    await new Promise((r) => setTimeout(r, 400))
    expect(events.filter((e) => e === 'onRunEvent').length).toBeGreaterThan(2)
    await s.dispose()
  })
})
