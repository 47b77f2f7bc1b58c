// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import VerdictBanner from './VerdictBanner.vue'
import type { Verdict } from '../../../shared/results'

const verdict: Verdict = {
  behavesLike: 'none',
  perPolicy: { stock: { agree: 1, disagree: 0, unknown: 0 }, 'steal-or-copy': { agree: 1, disagree: 0, unknown: 0 }, copy: { agree: 1, disagree: 0, unknown: 0 } },
  summary: 'no policy explains this kernel (stock: 0 disagreements, steal-or-copy: 0 disagreements, copy: 0 disagreements)',
}

describe('VerdictBanner', () => {
  it('says where a cancelled run stopped instead of a verdict', () => {
    const w = mount(VerdictBanner, { props: { verdict, cancelledAt: { done: 1, total: 3 } } })
    expect(w.find('[data-testid="verdict-policy"]').text()).toBe('cancelled at op 2')
    expect(w.text()).toContain('1 of 3 ops ran before the cancel')
    expect(w.text()).not.toContain('behaves like')
  })

  it('says the verdict sentence once, without the counts the chips show', () => {
    const w = mount(VerdictBanner, { props: { verdict } })
    expect(w.find('.summary').text()).toBe('No policy explains this kernel.')
    expect(w.text().match(/disagreement/g)).toBeNull()
  })
})
