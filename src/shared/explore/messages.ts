/**
 * What an explore run in the app reports as it goes (the onExploreEvent event of the API): its
 * progress, each minimal case as it is found, and the summary at the end. Cases cross as plain
 * data — the minimal scenario as YAML text (ready to save as a preset) and each drain's outcome
 * for the byte maps.
 */
import type { DrainOutcome, Policy } from '../results'
import type { Filesystem } from '../vocabulary'

export interface ExploreCounters {
  tried: number
  elapsedMs: number
  /** Scenarios per second, over the batches so far. */
  rate: number
  /** Disagreements found, and of them shrunk to a case not found before. */
  found: number
  shrunk: number
  /** Scenarios the probe could not finish (counted, not findings). */
  failed: number
  phase: 'running' | 'shrinking'
}

export interface ExploreCase {
  kind: 'model' | 'fix'
  fs: Filesystem
  name: string
  /** The minimal scenario as YAML, with a comment saying what it shows. */
  text: string
  reasons: string[]
  reproduced: number
  reruns: number
  shrinkAttempts: number
  /** Each drain of the minimal case's run: what the kernel's reader saw. */
  drains: { path: string; outcome: DrainOutcome }[]
}

export type ExploreEvent =
  | { type: 'progress'; exploreId: string; counters: ExploreCounters }
  | { type: 'case'; exploreId: string; case: ExploreCase }
  | { type: 'done'; exploreId: string; counters: ExploreCounters; policy: Policy; stoppedBy: 'count' | 'budget' | 'cancelled'; error?: string }
