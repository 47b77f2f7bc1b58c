/**
 * The probe's C header of shared names, resources/probe/vocabulary.h, generated from the core:
 * tracepoints and exit codes (src/shared/vocabulary.ts), limits (limits.ts), the protocol and
 * program versions, the marker texts and the range cap. `npm run gen:vocab` writes it; a test fails
 * when the committed header and this text differ, so the C tables cannot drift from the TypeScript.
 */
import { OPTIONAL_TRACEPOINTS, PROBE_EXIT, TRACEPOINTS } from '../vocabulary'
import { MAX_RANGES } from '../results'
import { PROBE_LIMITS } from './limits'
import { MARKER_BEGIN, MARKER_END } from './markers'
import { PROBE_PROTOCOL } from './output'
import { PROGRAM_VERSION } from './program'

export const VOCABULARY_HEADER_PATH = 'resources/probe/vocabulary.h'

const cString = (s: string): string => JSON.stringify(s)

function exitEnum(): string[] {
  const names = Object.keys(PROBE_EXIT) as (keyof typeof PROBE_EXIT)[]
  return ['enum probe_exit {', ...names.map((n) => `\tEXIT_${n.toUpperCase()} = ${PROBE_EXIT[n]},`), '};']
}

/** The text of vocabulary.h (tabs, kernel style). */
export function vocabularyHeader(): string {
  const L = PROBE_LIMITS
  const lines = [
    '/* Generated from src/shared/vocabulary.ts and src/shared/probe by `npm run gen:vocab`: do not edit. */',
    '#ifndef SPLICELAB_VOCABULARY_H',
    '#define SPLICELAB_VOCABULARY_H',
    '',
    `#define PROBE_PROTOCOL ${PROBE_PROTOCOL}`,
    `#define PROGRAM_VERSION ${PROGRAM_VERSION}`,
    `#define MARKER_BEGIN ${cString(MARKER_BEGIN)}`,
    `#define MARKER_END ${cString(MARKER_END)}`,
    '',
    '/* PROBE_LIMITS (src/shared/probe/limits.ts) and MAX_RANGES (src/shared/results.ts). */',
    `#define MAX_OPS ${L.maxOps}`,
    `#define MAX_FILES ${L.maxFiles}`,
    `#define MAX_BUFFERS ${L.maxBuffers}`,
    `#define MAX_PIPES ${L.maxPipes}`,
    `#define MAX_RUNS ${L.maxRuns}`,
    `#define MAX_PATTERN_SEQ ${L.maxPatternSeq}`,
    `#define PATH_LEN ${L.maxPathChars + 1}`,
    `#define MAX_HIST ${L.maxHistogram}`,
    `#define DEFAULT_OP_TIMEOUT_MS ${L.defaultOpTimeoutMs}`,
    `#define MAX_RANGES ${MAX_RANGES}`,
    '',
    '/* PROBE_EXIT: exit codes; a signal N that stops the probe gives 128 + N. */',
    ...exitEnum(),
    '',
    '/* TRACEPOINTS, in order: the per-op counts are reported in this order. */',
    `#define NTRACEPOINTS ${TRACEPOINTS.length}`,
    '#define TRACEPOINT_NAMES { \\',
    ...TRACEPOINTS.map((t) => `\t${cString(t)}, \\`),
    '}',
    '',
    '/* OPTIONAL_TRACEPOINTS: counted per op, after TRACEPOINTS, where the kernel has them. */',
    `#define NOPTIONAL_TRACEPOINTS ${OPTIONAL_TRACEPOINTS.length}`,
    '#define OPTIONAL_TRACEPOINT_NAMES { \\',
    ...OPTIONAL_TRACEPOINTS.map((t) => `\t${cString(t)}, \\`),
    '}',
    '#define NALL_TRACEPOINTS (NTRACEPOINTS + NOPTIONAL_TRACEPOINTS)',
    '',
    '#endif',
    '',
  ]
  return lines.join('\n')
}
