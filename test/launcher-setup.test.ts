import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";

// `npm install` puts Bun in node_modules/.bin, which is not on PATH, so the README's set-up
// installs the locked Bun globally first. That line must name the version package-lock.json locks.

const lockedBun = (JSON.parse(readFileSync("package-lock.json", "utf8")) as { packages: Record<string, { version: string }> }).packages["node_modules/bun"]!
  .version;

test("README.md's set-up installs the Bun version that package-lock.json locks", () => {
  const setupLines = readFileSync("README.md", "utf8").match(/npm install -g bun@[\w.+-]*/g) ?? [];
  const expected = `npm install -g bun@${lockedBun}`;
  if (setupLines.length === 0) throw new Error(`README.md has no set-up line "${expected}" (package-lock.json locks bun ${lockedBun})`);
  const drifted = setupLines.filter((line) => line !== expected);
  if (drifted.length > 0) {
    throw new Error(`README.md says "${drifted[0]}" but package-lock.json locks bun ${lockedBun}: change the line to "${expected}"`);
  }
  expect(setupLines.every((line) => line === expected)).toBe(true);
});
