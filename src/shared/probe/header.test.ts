import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { VOCABULARY_HEADER_PATH, vocabularyHeader } from './header'
import { OPTIONAL_TRACEPOINTS, PROBE_EXIT, TRACEPOINTS } from '../vocabulary'

const committed = readFileSync(new URL(`../../../${VOCABULARY_HEADER_PATH}`, import.meta.url), 'utf8')

describe('the probe C header of shared names', () => {
  it('is what `npm run gen:vocab` writes from the core today (run it after changing the vocabulary)', () => {
    expect(committed).toBe(vocabularyHeader())
  })

  it('carries every tracepoint in order, the optional ones after them, and every exit code', () => {
    const names = [...committed.matchAll(/^\t"([^"]+)", \\$/gm)].map((m) => m[1])
    expect(names).toEqual([...TRACEPOINTS, ...OPTIONAL_TRACEPOINTS])
    expect(committed).toContain(`#define NOPTIONAL_TRACEPOINTS ${OPTIONAL_TRACEPOINTS.length}`)
    for (const [name, code] of Object.entries(PROBE_EXIT)) expect(committed).toContain(`\tEXIT_${name.toUpperCase()} = ${code},`)
  })
})
