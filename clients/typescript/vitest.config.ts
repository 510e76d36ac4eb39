import { defineProject } from 'vitest/config';

// The client's unit tests (in-memory connect transport, no sockets). The root
// vitest.config.ts runs them as the `client` project of the repository's
// suite; `npx vitest run --project client` runs only them. Tests against the
// real server stay in test/integration/client-*.test.ts at the root.
export default defineProject({
  test: {
    name: 'client',
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
  },
});
