import { describe, expect, it } from 'vitest'
import { openTracer, cleanStaleInstances } from './tracer'
import type { Target, TargetFacts } from '../target/types'

/** A target that only answers facts(); any command reaching it is a failure of the test. */
function factsOnly(tracefs: TargetFacts['tracefs']): { target: Target; commands: string[] } {
  const commands: string[] = []
  const facts = { kernel: '6.18', arch: 'x86_64', pageSize: 4096, root: false, sudo: false, tracefs, perf: { available: false, paranoid: null }, compiler: { path: null }, spliceStats: false, scratch: { dir: '/tmp', fs: 'tmpfs' }, mkfs: {}, notes: [] } satisfies TargetFacts
  const target = {
    kind: 'local',
    label: 'fake',
    facts: async () => facts,
    exec: async (c: string) => {
      commands.push(c)
      return { code: 1, output: 'unexpected' }
    },
  } as unknown as Target
  return { target, commands }
}

describe('tracer without a usable tracefs', () => {
  it('a run goes on without a trace and says why (not mounted)', async () => {
    const { target, commands } = factsOnly({ path: null, writable: false, why: 'tracefs is not mounted and mounting it needs root' })
    const tracer = await openTracer(target)
    expect(tracer.markerPath).toBeNull()
    expect(tracer.wrap('probe --x')).toBe('probe --x')
    await tracer.start(() => undefined)
    expect(await tracer.stop()).toMatchObject({ events: 0, lost: 0, unavailable: 'tracefs is not mounted and mounting it needs root' })
    await tracer.dispose()
    expect(await cleanStaleInstances(target)).toEqual([])
    expect(commands).toEqual([])
  })

  it('names a tracefs that is there but not writable', async () => {
    const { target } = factsOnly({ path: '/sys/kernel/tracing', writable: false })
    const summary = await (await openTracer(target)).stop()
    expect(summary.unavailable).toContain('/sys/kernel/tracing is not writable')
  })

  it('refuses event names that could reach the shell unquoted', async () => {
    const { target } = factsOnly({ path: '/sys/kernel/tracing', writable: true })
    await expect(openTracer(target, { events: ['kmem/x; rm -rf /'] })).rejects.toThrow('not an ftrace event name')
  })
})
