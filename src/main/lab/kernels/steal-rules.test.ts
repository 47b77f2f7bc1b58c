import { describe, it, expect } from 'vitest'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { resourcePath } from '../resources'
import { FILE_STEAL_CONDITIONS, FILE_STEAL_MAY_COPY, USER_STEAL_CONDITIONS } from '../../../shared/model/policy'

const series = resourcePath('kernel/steal-or-copy')
const doc = readFileSync(fileURLToPath(new URL('../../../../docs/steal-rules.md', import.meta.url)), 'utf8')
const patchText = readdirSync(series).filter((f) => f.endsWith('.patch')).sort().map((f) => readFileSync(join(series, f), 'utf8')).join('\n')

/** The reason names the splice_copy tracepoint prints: EM(SPLICE_…, "name") in the trace header the series adds. */
function kernelReasons(): string[] {
  return [...patchText.matchAll(/^\+\s+EMe?\(SPLICE_[A-Z_]+,\s+"([a-z_]+)"\)/gm)].map((m) => m[1]!)
}

describe('docs/steal-rules.md and the steal-or-copy series', () => {
  it('every copy reason the kernel can trace is a rule of the document', () => {
    const reasons = kernelReasons()
    expect(reasons).toContain('stolen')
    expect(reasons.length).toBeGreaterThan(10)
    for (const r of reasons.filter((x) => x !== 'stolen')) expect(doc, `reason ${r}`).toContain(`(\`${r}\`)`)
  })

  it('the document cites kernel functions the series defines', () => {
    const cited = [...doc.matchAll(/`([a-z_]+)\(\)`/g)].map((m) => m[1]!)
    // The RFC's (6.5) function the document compares with, not part of this series.
    const rfc = new Set(['splice_zeropage_into_pipe'])
    const ours = cited.filter((f) => /^(splice_|vmsplice_|own_page)/.test(f) && !rfc.has(f))
    expect(ours.length).toBeGreaterThan(5)
    for (const f of ours) expect(patchText, f).toMatch(new RegExp(`^\\+.*\\b${f}\\(`, 'm'))
  })

  it("every steal condition of the model's steal-or-copy policy is a rule of the document", () => {
    const names = [...FILE_STEAL_CONDITIONS, ...FILE_STEAL_MAY_COPY, ...USER_STEAL_CONDITIONS].map((c) => c.name)
    expect(names.length).toBeGreaterThan(8)
    for (const n of names) expect(doc, n).toContain(`| \`${n}\``)
  })

  it('/proc/fs/splice is printed in the RFC format', () => {
    expect(patchText).toContain('"filemap: copied=%u moved=%u\\n"')
    expect(patchText).toContain('"direct : copied=%u\\n"')
    expect(patchText).toContain('"vmsplice: copied=%u stole=%u\\n"')
  })
})
