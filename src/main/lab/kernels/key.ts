/**
 * The cache key of a build: what goes into the bzImage and nothing else. Two builds with the same
 * key are the same kernel, so the second reuses the first's tree and image.
 */
import { createHash } from 'node:crypto'

/** Bumped when the build steps change in a way that changes the image (not for cosmetic changes). */
export const BUILD_RECIPE = 1

/** Where the source came from, as far as it decides the result. */
export type SourceIdentity =
  | { kind: 'debian'; package: string; tarballSha256: string }
  /** A user's tree: its path and version; with git, the commit and a hash of uncommitted changes. */
  | { kind: 'dir'; path: string; version: string; git: { head: string; changes: string } | null }

export interface KeyInputs {
  source: SourceIdentity
  patches: { file: string; strip: number; sha256: string }[]
  configSha256: string
}

/** 16 hex digits of sha256 over a canonical JSON of the inputs. */
export function buildKey(inputs: KeyInputs): string {
  const canonical = JSON.stringify({
    recipe: BUILD_RECIPE,
    source: inputs.source,
    patches: inputs.patches.map((p) => [p.file, p.strip, p.sha256]),
    config: inputs.configSha256,
  })
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16)
}
