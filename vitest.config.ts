import { defineConfig } from 'vitest/config';

// Two projects: the service's suites under test/ (they need dist/, built once
// by the global setup), and the TypeScript client's own unit tests, which live
// with the client package and run without the server build.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'penguiflow',
          include: ['test/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
        },
      },
      'clients/typescript',
    ],
  },
});
