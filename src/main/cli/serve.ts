import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { InvalidArgumentError, type Command } from 'commander'
import { startLabServer } from '../server/server'

/** The built renderer sits beside the built CLI: out/main/cli.js → out/renderer. */
const rendererDir = (): string => join(dirname(fileURLToPath(import.meta.url)), '..', 'renderer')

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the lab to a browser on 127.0.0.1, behind a random per-start token')
    .option('--port <n>', 'port to listen on (default: a free one)', (v) => {
      const n = Number(v)
      // InvalidArgumentError: commander prints it as one line and exits 1 (a plain Error is a stack trace).
      if (!/^\d+$/.test(v.trim()) || !Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port number from 0 to 65535 (0: a free one)')
      return n
    })
    .option('--bench', 'enable the benchmark-only synthetic event API (npm run bench:ui)')
    .action(async (opts: { port?: number; bench?: boolean }) => {
      let server
      try {
        server = await startLabServer({ port: opts.port ?? 0, rendererDir: rendererDir(), bench: !!opts.bench })
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code
        const why =
          code === 'EADDRINUSE' ? `port ${opts.port} on 127.0.0.1 is in use; choose another with --port, or --port 0 for a free one`
          : code === 'EACCES' ? `port ${opts.port} needs privileges to listen on; choose one above 1023`
          : e instanceof Error ? e.message : String(e)
        console.error(`splice-lab serve: ${why}`)
        process.exitCode = 1
        return
      }
      console.log(`Splice Lab is serving on 127.0.0.1:${server.port}${opts.bench ? ' (benchmark API enabled)' : ''}`)
      console.log(`Open: ${server.url}`)
      const stop = (): void => {
        void server.close().then(() => process.exit(0))
      }
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
}
