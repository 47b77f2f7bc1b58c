// Import directions of DESIGN.md, enforced: a bad import is a lint error, not a review comment.
//   src/shared   — imports nothing from Node, Electron, Vue or the other layers
//   src/main     — shared + Node (never renderer or Vue)
//   src/preload  — shared + electron
//   src/renderer — shared + Vue + browser libraries (never Node, Electron or main)
import tseslint from 'typescript-eslint'
import pluginVue from 'eslint-plugin-vue'

const NODE_BUILTINS = ['node:*', 'fs', 'fs/*', 'path', 'os', 'child_process', 'net', 'http', 'https', 'crypto', 'stream', 'url', 'util', 'worker_threads', 'events']
const layer = (name, patterns) => ({
  rules: { 'no-restricted-imports': ['error', { patterns: patterns.map((p) => ({ group: p.group, message: `${name}: ${p.why}` })) }] },
})

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', 'test-artifacts/**', '.lab/**'] },
  ...tseslint.configs.recommended,
  ...pluginVue.configs['flat/recommended'],
  {
    files: ['**/*.vue'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.vue'] } },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'vue/multi-word-component-names': 'off',
      'vue/max-attributes-per-line': 'off',
      'vue/singleline-html-element-content-newline': 'off',
      'vue/html-self-closing': 'off',
    },
  },
  {
    files: ['src/shared/**/*.ts'],
    ignores: ['src/shared/**/*.test.ts'],
    ...layer('src/shared is the pure core', [
      { group: NODE_BUILTINS, why: 'no Node modules (the model runs in a worker, a browser and the CLI alike)' },
      { group: ['electron', 'electron/*', 'vue', 'pinia', 'node-pty', 'ws'], why: 'no Electron, Vue, pty or socket imports' },
      { group: ['**/main/**', '**/renderer/**', '**/preload/**'], why: 'the core depends on no shell' },
    ]),
  },
  {
    files: ['src/main/**/*.ts'],
    ...layer('src/main', [
      { group: ['vue', 'pinia', 'chart.js', '@xterm/*', '**/renderer/**', '**/preload/**'], why: 'the Node side imports shared and Node only' },
    ]),
  },
  {
    // Inside the Node side: the lab and the targets are the core's I/O; the shells (API service, CLI,
    // lab server, Electron app) sit on them, never the other way round.
    files: ['src/main/lab/**/*.ts', 'src/main/target/**/*.ts'],
    ...layer('src/main/lab and src/main/target', [
      { group: ['vue', 'pinia', 'chart.js', '@xterm/*', '**/renderer/**', '**/preload/**'], why: 'the Node side imports shared and Node only' },
      { group: ['**/api/*', '!**/shared/api', '!**/shared/api/*', '**/cli/*', '**/server/*', '**/app/*', 'electron', 'electron/*'], why: 'the lab and the targets know no shell: the API service, CLI, server and app use them' },
    ]),
  },
  {
    files: ['src/preload/**/*.ts'],
    ...layer('src/preload', [
      { group: [...NODE_BUILTINS, 'node-pty', 'vue', 'pinia', '**/main/**', '**/renderer/**'], why: 'the preload exposes the contract through contextBridge and nothing else' },
    ]),
  },
  {
    files: ['src/renderer/**/*.ts', 'src/renderer/**/*.vue'],
    ignores: ['src/renderer/**/*.test.ts'],
    ...layer('src/renderer', [
      { group: [...NODE_BUILTINS, 'electron', 'electron/*', 'node-pty', 'ws', '**/main/**', '**/preload/*.ts'], why: 'the renderer has no Node access; it talks to the core through the API contract' },
    ]),
  },
)
