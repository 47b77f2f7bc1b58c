/**
 * What the probe can take, in one place: the schema refuses a scenario past these before anything
 * runs, instead of the probe refusing it after connect and scratch setup.
 *
 * The numbers are the probe's fixed tables (resources/probe): a program is parsed into static
 * arrays, so a hostile program cannot make it allocate without bound.
 */
export const PROBE_LIMITS = {
  /**
   * Op lines in one compiled program (4096): every leaf op, every `repeat` line and every body op
   * counts once (compiledOpCount below). The probe keeps one aggregate per op line.
   */
  maxOps: 4096,
  /** Files, buffers and pipes a program may declare, each (64). */
  maxFiles: 64,
  maxBuffers: 64,
  maxPipes: 64,
  /** `runs N` of a program (100,000); the schema's own bound (Scenario.runs) is lower. */
  maxRuns: 100_000,
  /** Seed of a `seq` pattern (1,000,000): the probe refuses larger. */
  maxPatternSeq: 1_000_000,
  /** Characters of an op path such as "ops[4095].body[4094]" (63, plus the C string's NUL). */
  maxPathChars: 63,
  /** Distinct outcomes a repeat body op keeps in its histogram (32); more are counted as dropped. */
  maxHistogram: 32,
  /** Default time limit of one op execution (60 s, --op-timeout-ms); a repeat re-arms it per iteration. */
  defaultOpTimeoutMs: 60_000,
} as const

export type ProbeLimits = typeof PROBE_LIMITS

/** How many op lines compileProgram writes for these ops: the number PROBE_LIMITS.maxOps bounds. */
export function compiledOpCount(ops: ReadonlyArray<{ op: string; body?: ReadonlyArray<unknown>; ops?: ReadonlyArray<unknown> }>): number {
  let n = 0
  for (const op of ops) n += op.op === 'repeat' ? 1 + (op.body?.length ?? 0) : op.op === 'race' ? 1 + (op.ops?.length ?? 0) : 1
  return n
}
