import { defineStore } from 'pinia'
import { ref, watch } from 'vue'

export type Theme = 'system' | 'light' | 'dark'
export type View = 'targets' | 'scenarios' | 'run' | 'history' | 'explore'
const THEME_KEY = 'splice-lab.theme'

/** UI preferences: the theme (follows prefers-color-scheme unless chosen) and the open view. */
export const usePreferencesStore = defineStore('preferences', () => {
  const stored = globalThis.localStorage?.getItem(THEME_KEY)
  const theme = ref<Theme>(stored === 'light' || stored === 'dark' ? stored : 'system')
  const view = ref<View>('targets')

  function cycleTheme(): void {
    theme.value = theme.value === 'system' ? 'dark' : theme.value === 'dark' ? 'light' : 'system'
  }

  watch(
    theme,
    (t) => {
      globalThis.localStorage?.setItem(THEME_KEY, t)
      if (typeof document === 'undefined') return
      if (t === 'system') delete document.documentElement.dataset.theme
      else document.documentElement.dataset.theme = t
    },
    { immediate: true },
  )

  return { theme, view, cycleTheme }
})
