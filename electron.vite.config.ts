import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { defineConfig, externalizeDepsPlugin } from 'electron-vite'
import vue from '@vitejs/plugin-vue'
import type { RollupLog } from 'rollup'

/**
 * electron-vite derives the Node target of the main build from the installed electron package. An
 * offline install has none (electron is an optional dependency whose binary download failed and
 * npm removed it), so take the major version from package.json: the build does not need the binary.
 */
function electronMajor(): string {
  try {
    return (createRequire(import.meta.url)('electron/package.json') as { version: string }).version.split('.')[0]!
  } catch {
    const pkg = JSON.parse(readFileSync(resolve(__dirname, 'package.json'), 'utf8')) as { optionalDependencies?: Record<string, string> }
    return /\d+/.exec(pkg.optionalDependencies?.electron ?? '')?.[0] ?? '38'
  }
}
process.env.ELECTRON_MAJOR_VER ||= electronMajor()

/**
 * zod places `@__PURE__` comments where Rollup cannot use them; Rollup drops the comment and says so
 * on every build. The code is unchanged, so that one warning is silenced for node_modules only.
 */
function onwarn(warning: RollupLog, warn: (w: RollupLog) => void): void {
  if (warning.code === 'INVALID_ANNOTATION' && warning.id?.includes('/node_modules/')) return
  warn(warning)
}

/** The same for the worker build, whose options take no onwarn: a plugin's onLog hook drops the log. */
const quietAnnotations = {
  name: 'quiet-invalid-annotations',
  onLog: (_level: string, log: RollupLog): boolean => !(log.code === 'INVALID_ANNOTATION' && !!log.id?.includes('/node_modules/')),
}

/** Libraries in their own chunks: no chunk over Vite's 500 kB warning, and the app's code caches apart. */
const VENDOR_CHUNKS: [string, RegExp][] = [
  // The editor core (view and state) apart from what builds on it (language, completion, lint, YAML).
  ['codemirror-core', /\/node_modules\/(@codemirror\/(view|state)|@marijn|crelt|style-mod|w3c-keyname)\//],
  ['codemirror', /\/node_modules\/(@codemirror|@lezer)\//],
  ['charts', /\/node_modules\/(chart\.js|chartjs-plugin-zoom|hammerjs|@kurkle)\//],
  ['xterm', /\/node_modules\/@xterm\//],
  ['zod', /\/node_modules\/zod\//],
  ['yaml', /\/node_modules\/yaml\//],
  ['vue', /\/node_modules\/(@vue|vue|pinia)\//],
]
function manualChunks(id: string): string | undefined {
  return VENDOR_CHUNKS.find(([, re]) => re.test(id))?.[0]
}

// One build for every shell: the Electron main process, the CLI (and lab server) and the model
// worker all come from src/main and share the core in src/shared.
export default defineConfig({
  main: {
    plugins: [externalizeDepsPlugin()],
    build: {
      rollupOptions: {
        input: {
          index: resolve(__dirname, 'src/main/index.ts'),
          cli: resolve(__dirname, 'src/main/cli/index.ts'),
          'model-worker': resolve(__dirname, 'src/main/model-worker/worker.ts'),
        },
        onwarn,
      },
    },
  },
  // A sandboxed preload can neither load ES modules nor require anything but `electron`: build it
  // as one CommonJS file (index.cjs) with the contract's channel names bundled in.
  preload: {
    build: {
      rollupOptions: {
        input: { index: resolve(__dirname, 'src/preload/index.ts') },
        external: ['electron'],
        output: { format: 'cjs', entryFileNames: '[name].cjs', inlineDynamicImports: true },
        onwarn,
      },
    },
  },
  renderer: {
    root: resolve(__dirname, 'src/renderer'),
    plugins: [vue()],
    // Relative asset URLs: the same build loads from file:// (Electron) and http:// (splice-lab serve).
    base: './',
    worker: { format: 'es', plugins: () => [quietAnnotations] },
    build: { rollupOptions: { input: { index: resolve(__dirname, 'src/renderer/index.html') }, onwarn, output: { manualChunks } } },
  },
})
