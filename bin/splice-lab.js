#!/usr/bin/env node
// The CLI and headless lab server are built with the app (npm run build); this only loads them.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
const cli = fileURLToPath(new URL('../out/main/cli.js', import.meta.url))
if (!existsSync(cli)) {
  console.error('splice-lab: not built yet; run `npm run build` first')
  process.exit(2)
}
await import(cli)
