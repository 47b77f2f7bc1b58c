/**
 * The names of the API, and nothing else: the preload imports only this module (a sandboxed
 * preload can require nothing but `electron`, so it must not pull in zod). contract.ts declares the
 * input schemas and output types for exactly these names; a type test there keeps both in step.
 */
export const METHODS = [
  'listTargets',
  'saveTarget',
  'removeTarget',
  'connectTarget',
  'disconnectTarget',
  'writeTerminal',
  'resizeTerminal',
  'ackTerminal',
  'attachTerminal',
  'openShell',
  'closeShell',
  'listPresets',
  'listUserScenarios',
  'saveScenario',
  'startRun',
  'cancelRun',
  'listRuns',
  'getRun',
  'exportRun',
  'startExplore',
  'stopExplore',
  'benchInject',
] as const
export type Method = (typeof METHODS)[number]

/** Events flow main → renderer; each `on…` verb returns its unsubscribe. */
export const EVENTS = ['onTargetStatus', 'onTerminalData', 'onRunEvent', 'onExploreEvent'] as const
export type EventName = (typeof EVENTS)[number]

/** Electron IPC channel of a method or event: one prefix, so nothing else can be reached. */
export const channelOf = (name: Method | EventName): string => `splice-lab:${name}`

export const isMethod = (s: unknown): s is Method => typeof s === 'string' && (METHODS as readonly string[]).includes(s)
