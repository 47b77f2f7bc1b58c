import { defineConfig } from 'vitest/config'
import vue from '@vitejs/plugin-vue'

// Three projects: unit (pure core and stores, fast), integration (real pty, real kernel, real sshd),
// e2e (the lab server in Debian's Chromium). Integration and e2e touch machine-wide state (ftrace
// instances, loop devices), so their files run one at a time.
export default defineConfig({
  plugins: [vue()],
  test: {
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts'], environment: 'node' },
      },
      {
        extends: true,
        test: { name: 'integration', include: ['test/integration/**/*.test.ts'], fileParallelism: false, testTimeout: 180_000, hookTimeout: 180_000 },
      },
      {
        extends: true,
        test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], fileParallelism: false, testTimeout: 240_000, hookTimeout: 240_000 },
      },
    ],
  },
})
