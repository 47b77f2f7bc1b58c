/**
 * Content patterns: the byte at absolute position `pos` of a file or buffer is a pure function of
 * (pattern, pos), so the model, the C probe and the drain check all agree on what "the original
 * data" is without ever shipping it. Patterns never produce a zero byte, so a zeroed range
 * (punch hole, truncate) is always distinguishable from data.
 *
 * The C probe implements the same function (resources/probe/probe.h, pattern_byte); a test checks
 * both agree.
 */
export type Pattern = { fill: number } | { seq: number }

export const DEFAULT_PATTERN: Pattern = { seq: 1 }

/** Byte `pos` of `pattern`; never 0. Arithmetic stays below 2^31 so JS numbers and C uint64 agree. */
export function patternByte(pattern: Pattern, pos: number): number {
  if ('fill' in pattern) return pattern.fill
  const p = pos % 255
  const page = Math.floor(pos / 4096) % 255
  return ((p * 31 + pattern.seq * 97 + page * 7) % 255) + 1
}

export function patternKey(pattern: Pattern): string {
  return 'fill' in pattern ? `fill:${pattern.fill}` : `seq:${pattern.seq}`
}
