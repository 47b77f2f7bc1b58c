/**
 * The open view (and History's page) in the URL hash — `#/history`, `#/history/run/<id>`,
 * `#/history/compare/<a>/<b>` — so an opened run has its own address, the browser's Back leaves
 * it, and a reload comes back to it. Hashes not starting with "#/" (e.g. #bench) are left alone.
 */
import { watch } from 'vue'
import { usePreferencesStore, type View } from './stores/preferences'
import { useHistoryStore, type HistoryPage } from './stores/history'

export function hashOf(view: View, page: HistoryPage): string {
  if (view !== 'history' || page.kind === 'list') return `#/${view}`
  return page.kind === 'run' ? `#/history/run/${encodeURIComponent(page.id)}` : `#/history/compare/${page.ids.map(encodeURIComponent).join('/')}`
}

export function parseHash(hash: string, views: readonly string[]): { view: View; page: HistoryPage } | null {
  if (!hash.startsWith('#/')) return null
  const parts = hash.slice(2).split('/').map(decodeURIComponent)
  const view = parts[0] as View
  if (!views.includes(view)) return null
  if (view === 'history' && parts[1] === 'run' && parts[2]) return { view, page: { kind: 'run', id: parts[2] } }
  if (view === 'history' && parts[1] === 'compare' && parts[2] && parts[3]) return { view, page: { kind: 'compare', ids: [parts[2], parts[3]] } }
  return { view, page: { kind: 'list' } }
}

export function useHashRoute(views: readonly string[]): void {
  const prefs = usePreferencesStore()
  const history = useHistoryStore()
  const apply = (): void => {
    const r = parseHash(window.location.hash, views)
    if (!r) return
    prefs.view = r.view
    if (r.page.kind === 'run') void history.open(r.page.id)
    else if (r.page.kind === 'compare') void history.compare(r.page.ids)
    else history.back()
  }
  apply()
  window.addEventListener('hashchange', apply)
  watch([() => prefs.view, () => history.page], ([view, page]) => {
    const next = hashOf(view, page)
    if (window.location.hash !== next && !window.location.hash.includes('bench')) window.location.hash = next
  })
}
