/** Outcomes in words people can read: "drain read 4096 bytes; bytes 100–299 changed to current data". */
import type { ChangedRange, OpOutcome } from '../results'

const HOLDS: Record<ChangedRange['holds'], string> = {
  zero: 'zeroes',
  current: 'current data',
  other: 'other data',
}

export function describeRange(r: ChangedRange): string {
  return `bytes ${r.start}–${r.end - 1} changed to ${HOLDS[r.holds]}`
}

export function describeOutcome(o: OpOutcome, op: string): string {
  const parts: string[] = []
  if (o.errno) parts.push(`${op} failed with ${o.errno}`)
  else if (o.drain) parts.push(`${op} read ${o.drain.read} bytes`)
  else parts.push(`${op} returned ${o.ret}`)
  if (o.drain) {
    if (o.drain.changed.length === 0 && o.drain.changedBytes === 0) parts.push('no byte changed')
    else {
      const shown = o.drain.changed.slice(0, 4).map(describeRange)
      if (o.drain.changed.length > 4) shown.push(`and ${o.drain.changed.length - 4} more ranges`)
      parts.push(...shown)
      const listed = o.drain.changed.reduce((n, r) => n + (r.end - r.start), 0)
      if (listed !== o.drain.changedBytes) parts.push(`${o.drain.changedBytes} bytes changed in all`)
    }
  }
  return parts.join('; ')
}
