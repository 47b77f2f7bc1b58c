#!/usr/bin/env node
/**
 * `npm start`: build when the sources are newer than the build, then open the desktop app — or,
 * when Electron's binary is not installed (an offline `npm install` leaves it out) or there is no
 * display, say so in one line and serve the same app to a browser through the lab server
 * (`splice-lab serve`), opening the system browser when there is a display.
 * Arguments after `--` go to `splice-lab serve` (e.g. `npm start -- --port 8080`).
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const binDir = join(root, 'node_modules', '.bin')

/** Newest modification time under a path (files only), 0 when it does not exist. */
function newest(path) {
  let st
  try {
    st = statSync(path)
  } catch {
    return 0
  }
  if (!st.isDirectory()) return st.mtimeMs
  let t = 0
  for (const name of readdirSync(path)) t = Math.max(t, newest(join(path, name)))
  return t
}

function buildIfStale() {
  const built = existsSync(join(root, 'out/main/cli.js')) && existsSync(join(root, 'out/renderer/index.html')) ? newest(join(root, 'out')) : 0
  const sources = Math.max(...['src', 'resources', 'electron.vite.config.ts', 'package.json'].map((p) => newest(join(root, p))))
  if (built >= sources) return
  console.log('Splice Lab: building…')
  const r = spawnSync(join(binDir, 'electron-vite'), ['build', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' })
  if (r.status !== 0) process.exit(r.status ?? 1)
}

/** The Electron binary's path, or why there is none. */
function electronBinary() {
  const require = createRequire(join(root, 'package.json'))
  try {
    require.resolve('electron/package.json')
  } catch {
    return { why: "Electron is not installed (npm install could not download its binary; run `npm install` again when online)" }
  }
  try {
    const path = require('electron')
    return existsSync(path) ? { path } : { why: `Electron's binary is missing (${path})` }
  } catch {
    return { why: "Electron's binary is not installed (`node node_modules/electron/install.js` fetches it when online)" }
  }
}

const hasDisplay = () => !!(process.env.DISPLAY || process.env.WAYLAND_DISPLAY)

/** Children get the signals npm start gets, and this process ends with them. */
function run(cmd, argv, opts = {}) {
  const child = spawn(cmd, argv, { cwd: root, stdio: 'inherit', ...opts })
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      child.kill(sig)
      // A server that does not close within 5 s (a connection held open) is ended anyway.
      setTimeout(() => child.kill('SIGKILL'), 5000).unref()
    })
  }
  // Never leave the server behind this process.
  process.on('exit', () => child.exitCode === null && child.kill('SIGKILL'))
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)))
  return child
}

function openBrowser(url) {
  const opener = spawn('xdg-open', [url], { stdio: 'ignore', detached: true })
  opener.on('error', () => console.log('Splice Lab: could not run xdg-open; open the URL above in a browser'))
  opener.unref()
}

function serveInBrowser(why) {
  console.log(`Splice Lab: ${why}; serving the app to a browser instead.`)
  const child = run(process.execPath, [join(root, 'bin/splice-lab.js'), 'serve', ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  let opened = false
  child.stdout.on('data', (chunk) => {
    process.stdout.write(chunk)
    out += chunk
    const url = /Open: (http:\/\/\S+)/.exec(out)?.[1]
    if (url && !opened) {
      opened = true
      if (hasDisplay()) openBrowser(url)
    }
  })
}

buildIfStale()
const electron = electronBinary()
if (electron.why) serveInBrowser(electron.why)
else if (!hasDisplay()) serveInBrowser('no display (DISPLAY and WAYLAND_DISPLAY are unset)')
else run(join(binDir, 'electron-vite'), ['preview', '--skipBuild'])
