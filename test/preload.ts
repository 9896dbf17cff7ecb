import { setDefaultTimeout } from "bun:test";

// Cluster tests start real processes; on a loaded machine a test or hook can take longer than
// Bun's default 5 s. This Bun ignores `[test] timeout` in bunfig.toml, so a plain `bun test`
// gets the same bound as `npm test` from here (checked by test/launcher.test.ts).
setDefaultTimeout(60_000);
