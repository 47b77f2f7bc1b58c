/**
 * The one API contract between the core (Electron main process or the headless lab server) and the
 * renderer: every method's input schema (zod — validated wherever an input crosses a boundary) and
 * output type, every event's payload. Main, preload, server and renderer import it; nothing else
 * declares a channel. Errors cross as plain `{ code, message }` values (VS Code's IPC does the same),
 * never as thrown objects, because neither structured clone nor JSON keeps an Error's class.
 */
import { z } from 'zod'
import { bootArgProblem } from '../boot-args'
import type { TargetFacts } from '../target'
import { Filesystem } from '../scenario/schema'
import { SCENARIO_LIMITS } from '../scenario/limits'
import type { RunEvent, RunRecord } from '../run/types'
import type { Policy } from '../results'
import type { EventName, Method } from './channels'
import type { ExploreEvent } from '../explore/messages'

export * from './channels'

/** Ids that become file names (run records, targets): no path separators, no dots. */
export const SafeId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected an id of letters, digits, _ or - (at most 64)')

const Name = z.string().trim().min(1, 'give the target a name').max(80)
/** A host name or address as ssh accepts it; no leading "-" so it can never read as an option. */
const Host = z.string().regex(/^[A-Za-z0-9_.:[\]%-]{1,253}$/, 'expected a host name or address').refine((h) => !h.startsWith('-'), 'a host cannot start with "-"')
const User = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/, 'expected a user name (letters, digits, _ . -)')

export const LocalTargetConfig = z.strictObject({ id: SafeId, name: Name, kind: z.literal('local') })
export const SshTargetConfig = z.strictObject({
  id: SafeId,
  name: Name,
  kind: z.literal('ssh'),
  host: Host,
  user: User.optional(),
  port: z.number().int().min(1).max(65535).optional(),
  /** A private key file on the workstation (ssh -i); otherwise ~/.ssh/config and the agent decide. */
  identityFile: z.string().min(1).max(4096).refine((p) => !p.startsWith('-'), 'a path cannot start with "-"').optional(),
})
/**
 * A kernel as `vm:<kernel>` takes it: a kernel-store name, or an absolute path to a bzImage. The
 * main side resolves it (src/main/target/vm/kernel-image.ts) and says when it does not exist.
 */
const Kernel = z
  .string()
  .min(1, 'name a kernel: a kernel-store name or an absolute path to a bzImage')
  .max(4096)
  .refine((k) => /^[A-Za-z0-9._-]{1,64}$/.test(k) ? !k.startsWith('-') && k !== '.' && k !== '..' : k.startsWith('/') && !/[\0\n]/.test(k), 'expected a kernel-store name (letters, digits, . _ -) or an absolute path to a bzImage')
/** One kernel command-line word (src/shared/boot-args.ts, which the qemu command line checks too). */
export const BootArg = z.string().superRefine((a, ctx) => {
  const problem = bootArgProblem(a)
  if (problem) ctx.addIssue({ code: 'custom', message: problem })
})
export const VmTargetConfig = z.strictObject({
  id: SafeId,
  name: Name,
  kind: z.literal('vm'),
  kernel: Kernel,
  bootArgs: z.array(BootArg).max(64).optional(),
  memoryMb: z.number().int().min(256).max(16384).optional(),
})
export const TargetConfig = z.discriminatedUnion('kind', [LocalTargetConfig, SshTargetConfig, VmTargetConfig])
export type TargetConfig = z.output<typeof TargetConfig>
/** saveTarget takes a config without an id to add a target, with one to edit it. */
export const TargetDraft = z.discriminatedUnion('kind', [LocalTargetConfig.partial({ id: true }), SshTargetConfig.partial({ id: true }), VmTargetConfig.partial({ id: true })])

/** The target's facts as the renderer sees them: the one TargetFacts type of the core. */
export type TargetFactsView = TargetFacts

export type TargetStatus = 'disconnected' | 'connecting' | 'connected' | 'error'
export interface TargetState {
  config: TargetConfig
  status: TargetStatus
  /** Progress while connecting, the reason after an error. */
  message?: string
  facts?: TargetFactsView
}

/** A scenario file the user saved; `path` is where it is on the workstation. */
export interface UserScenario {
  name: string
  path: string
  text: string
}

export interface PresetInfo {
  name: string
  title: string
  description: string
  /** The preset's YAML text, for the editor. */
  text: string
}

export interface RunSummary {
  id: string
  scenario: string
  title: string
  startedAt: string
  finishedAt: string | null
  target: string
  kernel: string
  fs: string
  behavesLike: Policy | 'none' | null
  /** Ops each policy's model disagreed with (the History matrix shows them beside the verdict). */
  disagreements?: Record<Policy, number>
  error?: string
}

export const ExportFormat = z.enum(['json', 'csv', 'series-csv', 'perfetto'])
export type ExportFormat = z.output<typeof ExportFormat>
export interface ExportedFile {
  filename: string
  mime: string
  content: string
}

/** The size of a scenario text we accept: generous for people, bounded for the validator. */
const ScenarioText = z.string().min(1, 'the scenario is empty').max(SCENARIO_LIMITS.maxTextChars, `the scenario is larger than ${SCENARIO_LIMITS.maxTextChars} characters`)

/** Input schemas, one per method (z.undefined() where a method takes nothing). */
export const INPUTS = {
  listTargets: z.undefined(),
  saveTarget: TargetDraft,
  removeTarget: z.strictObject({ id: SafeId }),
  connectTarget: z.strictObject({ id: SafeId }),
  disconnectTarget: z.strictObject({ id: SafeId }),
  writeTerminal: z.strictObject({ id: SafeId, data: z.string().max(65_536) }),
  resizeTerminal: z.strictObject({ id: SafeId, cols: z.number().int().min(2).max(1000), rows: z.number().int().min(1).max(500) }),
  /** Flow control: the renderer acknowledges characters it has written into the terminal. */
  ackTerminal: z.strictObject({ id: SafeId, chars: z.number().int().min(0).max(100_000_000) }),
  /**
   * A terminal view opened: flow control starts afresh and the recent output comes as one
   * onTerminalData event marked `replay` (an event, so it is ordered with the live output).
   */
  attachTerminal: z.strictObject({ id: SafeId }),
  /** An interactive login shell on a connected target in its own pty; its terminal id is `<id>--shell`. */
  openShell: z.strictObject({ id: SafeId }),
  closeShell: z.strictObject({ id: SafeId }),
  listPresets: z.undefined(),
  /** The user's own scenarios: `<data dir>/scenarios/*.yaml`, beside the presets in the app. */
  listUserScenarios: z.undefined(),
  /** Saves (or replaces) `<data dir>/scenarios/<name>.yaml`; the text must be a valid scenario. */
  saveScenario: z.strictObject({ name: SafeId, text: ScenarioText }),
  startRun: z.strictObject({ targetId: SafeId, scenarioText: ScenarioText, source: z.string().max(200).default('<editor>'), fs: Filesystem.optional() }),
  cancelRun: z.strictObject({ runId: SafeId }),
  listRuns: z.undefined(),
  getRun: z.strictObject({ id: SafeId }),
  exportRun: z.strictObject({ id: SafeId, format: ExportFormat }),
  /** Generated scenarios on a connected target until `count` scenarios or `budgetSeconds` (src/main/lab/explore.ts). */
  startExplore: z.strictObject({
    targetId: SafeId,
    fs: z.array(Filesystem).min(1).max(4),
    seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
    count: z.number().int().min(1).max(1_000_000).optional(),
    budgetSeconds: z.number().int().min(1).max(7 * 24 * 3600).optional(),
  }).refine((o) => o.count !== undefined || o.budgetSeconds !== undefined, 'give a count or a time budget'),
  stopExplore: z.strictObject({ exploreId: SafeId }),
  /**
   * BENCHMARK ONLY (npm run bench:ui): streams synthetic trace buckets as run events. Refused unless
   * the server was started with --bench; never offered by the Electron app.
   */
  benchInject: z.strictObject({ eventsPerSecond: z.number().int().min(1).max(1_000_000), durationMs: z.number().int().min(100).max(120_000) }),
} satisfies Record<Method, z.ZodType>

export interface Outputs {
  listTargets: TargetState[]
  saveTarget: TargetState
  removeTarget: null
  connectTarget: TargetState
  disconnectTarget: TargetState
  writeTerminal: null
  resizeTerminal: null
  ackTerminal: null
  attachTerminal: null
  openShell: { id: string }
  closeShell: null
  listPresets: PresetInfo[]
  listUserScenarios: UserScenario[]
  saveScenario: UserScenario
  startRun: { runId: string }
  cancelRun: null
  listRuns: RunSummary[]
  getRun: RunRecord
  exportRun: ExportedFile
  startExplore: { exploreId: string; seed: number }
  stopExplore: null
  benchInject: { runId: string }
}

export interface EventPayloads {
  onTargetStatus: TargetState
  /** `replay`: the backlog sent on attachTerminal; what came before it is in it. */
  onTerminalData: { id: string; data: string; replay?: boolean }
  onRunEvent: RunEvent
  onExploreEvent: ExploreEvent
}

export type Input<M extends Method> = z.input<(typeof INPUTS)[M]>
export type ParsedInput<M extends Method> = z.output<(typeof INPUTS)[M]>
export type Output<M extends Method> = Outputs[M]

export interface ApiErrorValue {
  /** Stable, for code: 'invalid-input', 'not-found', 'not-connected', 'unavailable', 'busy', 'failed', 'refused'. */
  code: string
  /** For people: what went wrong and, where possible, what to do. */
  message: string
}
export type Result<T> = { ok: true; value: T } | { ok: false; error: ApiErrorValue }

/** What the preload exposes and the WebSocket client implements: verbs only, never a raw channel. */
export type Bridge = { [M in Method]: (input: Input<M>) => Promise<Result<Output<M>>> } & {
  [E in EventName]: (listener: (payload: EventPayloads[E]) => void) => () => void
}

/** The core side: one handler per method, fed validated input. */
export type Handlers = { [M in Method]: (input: ParsedInput<M>) => Promise<Output<M>> }

/** An error with a code, thrown by handlers and turned into an ApiErrorValue at the boundary. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

export function toErrorValue(e: unknown): ApiErrorValue {
  if (e instanceof ApiError) return { code: e.code, message: e.message }
  if (e instanceof z.ZodError) return { code: 'invalid-input', message: e.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ') }
  return { code: 'failed', message: e instanceof Error ? e.message : String(e) }
}

/**
 * Validates an input and calls its handler; never throws. Used by the IPC wiring and the server alike,
 * so both shells refuse the same bad input with the same message.
 */
export async function dispatch<M extends Method>(handlers: Handlers, method: M, input: unknown): Promise<Result<Output<M>>> {
  const schema = INPUTS[method] as z.ZodType
  const parsed = schema.safeParse(input)
  if (!parsed.success) return { ok: false, error: toErrorValue(parsed.error) }
  try {
    const handler = handlers[method] as (i: unknown) => Promise<Output<M>>
    return { ok: true, value: await handler(parsed.data) }
  } catch (e) {
    return { ok: false, error: toErrorValue(e) }
  }
}

/** The WebSocket framing: requests carry an id, responses echo it, events carry a name. */
export type WireMessage =
  | { kind: 'request'; id: number; method: Method; input: unknown }
  | { kind: 'response'; id: number; result: Result<unknown> }
  | { kind: 'event'; name: EventName; payload: unknown }

export const WireRequest = z.strictObject({
  kind: z.literal('request'),
  id: z.number().int().min(0),
  method: z.string(),
  input: z.unknown().optional(),
})
