import { describe, expect, it } from 'vitest'
import { splitReasons, summaryWithoutCounts, verdictSentence } from './reasons'

describe('reasons', () => {
  it('puts disagreements first, once, and agreements and notes apart', () => {
    const r = splitReasons([
      'splice returned 4096; steal-or-copy allows that',
      'drain read 4096 bytes, 4096 changed; steal-or-copy forbids that: it allows only drain read 4096 bytes, intact',
      'kmem:mm_page_alloc fired 0 times; steal-or-copy expects 1',
      'kmem:mm_page_alloc fired 0 times; steal-or-copy expects 1',
      'note: steal-or-copy also allows = 0, not observed',
    ])
    expect(r.disagree).toEqual(['drain read 4096 bytes, 4096 changed; steal-or-copy forbids that: it allows only drain read 4096 bytes, intact', 'kmem:mm_page_alloc fired 0 times; steal-or-copy expects 1'])
    expect(r.agree).toEqual(['splice returned 4096; steal-or-copy allows that', 'note: steal-or-copy also allows = 0, not observed'])
  })

  it('drops the counts from the verdict sentence', () => {
    expect(summaryWithoutCounts('this kernel behaves like stock (stock: 0 disagreements, steal-or-copy: 1 disagreement, copy: 2 disagreements)')).toBe('this kernel behaves like stock')
    expect(summaryWithoutCounts('the run did not finish (killed); on the 2 ops it did: no policy explains this kernel (stock: 1 disagreement, steal-or-copy: 1 disagreement, copy: 1 disagreement)')).toBe('the run did not finish (killed); on the 2 ops it did: no policy explains this kernel')
    expect(summaryWithoutCounts('nothing to compare: the probe reported no op')).toBe('nothing to compare: the probe reported no op')
  })

  it('says in the card what the policy name does not', () => {
    const perPolicy = { stock: { agree: 3, disagree: 0, unknown: 0 }, 'steal-or-copy': { agree: 2, disagree: 1, unknown: 0 }, copy: { agree: 3, disagree: 0, unknown: 0 } }
    expect(verdictSentence({ behavesLike: 'stock', perPolicy, summary: 'this kernel behaves like stock (stock: 0 disagreements, steal-or-copy: 1 disagreement, copy: 0 disagreements)' })).toBe('All 3 ops agree with stock; the others disagree: steal-or-copy on 1.')
    expect(verdictSentence({ behavesLike: 'stock', perPolicy, summary: 'this kernel behaves like stock; this scenario cannot tell it from copy (stock: 0 disagreements, steal-or-copy: 1 disagreement, copy: 0 disagreements)' })).toBe('This kernel behaves like stock; this scenario cannot tell it from copy.')
  })
})
