import { defineConfig } from 'vitest/config';

// Unit tests live beside their modules (`*.test.ts`); integration tests live in `test/`.
// `synapse-source` resolves workspace packages to their TypeScript sources.
export default defineConfig({
  resolve: { conditions: ['synapse-source'] },
  ssr: { resolve: { conditions: ['synapse-source'] } },
  test: {
    include: ['client/src/**/*.test.ts', 'server/src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
