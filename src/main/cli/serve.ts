import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Command } from 'commander'
import { startLabServer } from '../server/server'

/** The built renderer sits beside the built CLI: out/main/cli.js → out/renderer. */
const rendererDir = (): string => join(dirname(fileURLToPath(import.meta.url)), '..', 'renderer')

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the lab to a browser on 127.0.0.1, behind a random per-start token')
    .option('--port <n>', 'port to listen on (default: a free one)', (v) => {
      const n = Number(v)
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--port: expected 0–65535, got "${v}"`)
      return n
    })
    .option('--bench', 'enable the benchmark-only synthetic event API (npm run bench:ui)')
    .action(async (opts: { port?: number; bench?: boolean }) => {
      const server = await startLabServer({ port: opts.port ?? 0, rendererDir: rendererDir(), bench: !!opts.bench })
      console.log(`Splice Lab is serving on 127.0.0.1:${server.port}${opts.bench ? ' (benchmark API enabled)' : ''}`)
      console.log(`Open: ${server.url}`)
      const stop = (): void => {
        void server.close().then(() => process.exit(0))
      }
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
}
