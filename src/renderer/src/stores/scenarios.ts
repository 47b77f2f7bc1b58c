import { defineStore } from 'pinia'
import { computed, ref, shallowRef, watch } from 'vue'
import type { PresetInfo, UserScenario } from '../../../shared/api'
import { parseScenarioText, type ScenarioProblem } from '../../../shared/scenario'
import type { Policy, Prediction } from '../../../shared/results'
import { call, messageOf } from '../api'
import { createWorkerModel, type ModelClient } from '../modelClient'

export { FILESYSTEMS } from '../../../shared/vocabulary'
import type { Filesystem } from '../../../shared/vocabulary'

/** Scenarios: the preset library, the editor's text with its problems, and the model's preview. */
export const useScenariosStore = defineStore('scenarios', () => {
  const presets = ref<PresetInfo[]>([])
  const presetsError = ref<string | null>(null)
  const selectedPreset = ref<string | null>(null)
  /** The user's saved scenarios, and the one open in the editor (null: a preset or unsaved text). */
  const mine = ref<UserScenario[]>([])
  const selectedMine = ref<string | null>(null)
  const saveError = ref<string | null>(null)
  const savedPath = ref<string | null>(null)
  const text = ref('')
  const source = ref('<editor>')
  const fs = ref<Filesystem>('tmpfs')
  const pageSize = ref(4096)
  const predictions = shallowRef<Record<Policy, Prediction> | null>(null)
  const predictionError = ref<string | null>(null)
  const predicting = ref(false)
  const predictMs = ref<number | null>(null)
  let model: ModelClient | null = null

  /** Parsed on every edit: the validator is fast, and problems show as the person types. */
  const parsed = computed(() => (text.value.trim() ? parseScenarioText(text.value, source.value, pageSize.value) : null))
  const problems = computed<ScenarioProblem[]>(() => (parsed.value && !parsed.value.ok ? parsed.value.problems : []))
  const scenario = computed(() => (parsed.value?.ok ? parsed.value.scenario : null))
  /** The editor's text differs from the preset or file it came from. */
  const dirty = computed(() => {
    const saved = selectedMine.value !== null ? mine.value.find((x) => x.name === selectedMine.value) : presets.value.find((x) => x.name === selectedPreset.value)
    return !saved || saved.text !== text.value
  })

  async function loadPresets(): Promise<void> {
    presetsError.value = null
    try {
      presets.value = await call('listPresets')
      // The seed's first case is where everyone starts.
      const first = presets.value.find((p) => p.name === 'write-after-splice') ?? presets.value[0]
      if (!text.value && first) choose(first.name)
    } catch (e) {
      presetsError.value = messageOf(e)
    }
  }

  async function loadMine(): Promise<void> {
    try {
      mine.value = await call('listUserScenarios')
    } catch (e) {
      saveError.value = messageOf(e)
    }
  }

  function chooseMine(name: string): void {
    const m = mine.value.find((x) => x.name === name)
    if (!m) return
    selectedMine.value = name
    selectedPreset.value = null
    source.value = m.path
    text.value = m.text
    savedPath.value = m.path
  }

  /** Saves the editor's text as the user's scenario `name` (replacing one of that name). */
  async function save(name: string): Promise<boolean> {
    saveError.value = null
    try {
      const saved = await call('saveScenario', { name, text: text.value })
      mine.value = [...mine.value.filter((x) => x.name !== saved.name), saved].sort((a, b) => a.name.localeCompare(b.name))
      selectedMine.value = saved.name
      selectedPreset.value = null
      source.value = saved.path
      savedPath.value = saved.path
      return true
    } catch (e) {
      saveError.value = messageOf(e)
      return false
    }
  }

  function choose(name: string): void {
    const p = presets.value.find((x) => x.name === name)
    if (!p) return
    selectedMine.value = null
    savedPath.value = null
    selectedPreset.value = name
    source.value = `preset ${name}`
    text.value = p.text
  }

  function setModel(m: ModelClient): void {
    model = m
  }

  async function predict(): Promise<void> {
    const s = scenario.value
    if (!s) {
      predictions.value = null
      return
    }
    predicting.value = true
    predictionError.value = null
    try {
      model ??= createWorkerModel()
      const r = await model.predict(s, s.fs ?? fs.value, pageSize.value)
      predictions.value = r.predictions
      predictMs.value = r.ms
    } catch (e) {
      if (messageOf(e) === 'superseded') return
      predictions.value = null
      predictionError.value = messageOf(e)
    } finally {
      predicting.value = false
    }
  }

  let timer: ReturnType<typeof setTimeout> | null = null
  watch([scenario, fs, pageSize], () => {
    if (timer) clearTimeout(timer)
    timer = setTimeout(() => void predict(), 150)
  })

  return {
    presets, presetsError, selectedPreset, text, source, fs, pageSize, predictions, predictionError, predicting, predictMs,
    parsed, problems, scenario, dirty, loadPresets, choose, predict, setModel,
    mine, selectedMine, saveError, savedPath, loadMine, chooseMine, save,
  }
})
