import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { openTracer, cleanStaleInstances } from './tracer'
import { openRawReader } from './trace-raw'
import { FRAME, FrameReader, payloadText } from '../../shared/trace/raw/frames'
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

describe('binary reader: why it is not used', () => {
  const bundle = (() => {
    // The layouts of the real capture: its FORMATS frame.
    const bytes = readFileSync(new URL('../../../test/fixtures/trace/raw-ops.rawtrace', import.meta.url))
    let text = ''
    new FrameReader({ frame: (type, _cpu, payload) => type === FRAME.FORMATS && (text = payloadText(payload)) }).push(bytes)
    return text
  })()

  /** A remote target that answers the layout command with `layouts` and has no binary stream. */
  function remote(layouts: string): { target: Target; commands: string[] } {
    const commands: string[] = []
    const target = {
      kind: 'ssh',
      label: 'ssh://fake',
      exec: async (c: string) => {
        commands.push(c)
        return { code: 0, output: layouts }
      },
    } as unknown as Target
    return { target, commands }
  }
  const open = (target: Target): Promise<unknown> =>
    openRawReader({ target, tracefs: '/sys/kernel/tracing', dir: '/sys/kernel/tracing/instances/x', events: ['kmem/mm_page_alloc'], onRecord: () => undefined, onError: () => undefined })

  it('says so when the target cannot stream bytes', async () => {
    const { target, commands } = remote(bundle)
    await expect(open(target)).rejects.toThrow('the ssh target cannot stream binary data')
    // One command read every layout, quoted.
    expect(commands).toEqual(['cd /sys/kernel/tracing/events && tail -n +1 header_page header_event kmem/mm_page_alloc/format ftrace/print/format'])
  })

  it('names the event whose print fmt it cannot print, before starting anything', async () => {
    const odd = bundle.replace(/(==> kmem\/mm_page_alloc\/format <==[\s\S]*?print fmt: )"page=%p/, '$1"page=%pU')
    expect(odd).not.toBe(bundle)
    const { target } = remote(odd)
    await expect(open(target)).rejects.toThrow('events/kmem/mm_page_alloc/format: print fmt has %pU, which the binary reader does not support')
  })
})
