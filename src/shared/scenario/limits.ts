/**
 * How big a scenario may be, in one place: what the probe can take (its fixed tables,
 * src/shared/probe/limits.ts) and what the model can simulate within a few seconds and a few
 * hundred MB. The schema and validation refuse anything past these, naming the field, before a
 * target is touched; the API and the CLI cap the text at the same size.
 */
import { PROBE_LIMITS } from '../probe/limits'

export const SCENARIO_LIMITS = {
  /**
   * Characters of scenario text (1,000,000): the largest preset is 2 KB; a 100 MB file took the
   * CLI 54 s and 3.4 GB before validation said anything.
   */
  maxTextChars: 1_000_000,
  /**
   * Nesting of YAML/JSON collections (32; a scenario needs 5). The YAML parser recurses per level:
   * 1,000 levels overflow its stack and 5,000 (10 KB of "[") abort the whole process with a fatal
   * V8 out-of-memory, so depth is measured on the text before it is parsed.
   */
  maxDepth: 32,
  /** Files, buffers and pipes (64 each): the probe's tables. */
  maxFiles: PROBE_LIMITS.maxFiles,
  maxBuffers: PROBE_LIMITS.maxBuffers,
  maxPipes: PROBE_LIMITS.maxPipes,
  /** Op lines once compiled (4096): every leaf op, every repeat and every op of its body. */
  maxOps: PROBE_LIMITS.maxOps,
  /**
   * Any one size, offset or length, and any offset + length (1 GiB): the largest preset streams a
   * 1 MiB file; scratch tmpfs holds 256 MiB and loop images 512 MiB. The model keeps every page of
   * a file (a 2^53-byte file grew predict to 4 GB and a V8 heap error).
   */
  maxBytes: 1024 ** 3,
  /** Bytes of all files and buffers together (1 GiB): the model and the probe hold all of them. */
  maxTotalBytes: 1024 ** 3,
  /** A repeat's `times` (1,000,000): the largest preset repeats 1,024 times. */
  maxTimes: 1_000_000,
  /**
   * Simulated work: page-steps of the whole scenario (2^24 ≈ 16.8 M), counted by scenarioWork().
   * The model takes 0.05-0.1 µs per page a splice or drain moves and ~1.3 µs per op, so the bound
   * keeps a prediction within a few seconds; the 1 GiB streaming preset is 0.53 M.
   */
  maxWork: 2 ** 24,
  /** Whole-scenario repetitions of a run (10,000), each kept in the outcome histogram. */
  maxRuns: 10_000,
} as const

export type ScenarioLimits = typeof SCENARIO_LIMITS
