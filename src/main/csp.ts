/**
 * The renderer's Content-Security-Policy, one for both shells that serve it (the Electron window
 * and the lab server): the app's own files only, no inline script, no plugins, never framed, no
 * <base> or form posts. `connect` adds the origins the page may open connections to besides its own
 * (the lab server's WebSocket); the window talks over IPC and needs none.
 */
export function rendererCsp(connect: readonly string[] = []): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "worker-src 'self' blob:",
    ["connect-src 'self'", ...connect].join(' '),
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ')
}
