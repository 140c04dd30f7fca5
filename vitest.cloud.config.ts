import { defineConfig } from 'vitest/config';

/** Opt-in tests against a real deployed stack: `RK_CLOUD_OUTPUTS=cdk-outputs.json npm run test:cloud`. */
export default defineConfig({
  test: { include: ['test/cloud/**/*.cloud.ts'], testTimeout: 60_000, fileParallelism: false },
});
