import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

// Unit tests live beside their modules (`*.test.ts`); integration tests live in `test/`.
// `synapse-source` resolves workspace packages to their TypeScript sources.
export default defineConfig({
  resolve: {
    conditions: ['synapse-source'],
    // graphql 16 ships CJS (`main`) and ESM (`module`); Node loads the CJS one
    // for dependencies, so our sources must use the same instance.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  ssr: { resolve: { conditions: ['synapse-source'] } },
  test: {
    include: ['client/src/**/*.test.ts', 'server/src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
