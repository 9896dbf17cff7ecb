import { setDefaultTimeout } from "bun:test";

// Cluster tests start real processes; on a loaded machine a test or hook can take longer than
// Bun's default 5 s. This Bun ignores `[test] timeout` in bunfig.toml, and a setDefaultTimeout()
// here would reach only the first test file, so it is called as each test file loads: a plain
// `bun test` then runs with the same bound as `npm test` (checked by test/launcher.test.ts).
const testTimeoutMs = 60_000;

Bun.plugin({
  name: "default-test-timeout",
  setup(build) {
    build.onLoad({ filter: /\.test\.ts$/ }, async ({ path }) => {
      setDefaultTimeout(testTimeoutMs);
      return { contents: await Bun.file(path).text(), loader: "ts" };
    });
  },
});
