/**
 * The README's TypeScript examples run as written against the repository's build. Each block is
 * transpiled (no type check here: packed-package.test.ts compiles them with --strict against the
 * published declarations) to a module in a temporary directory whose node_modules/skein links to
 * this repository, so `import ... from 'skein'` resolves through package.json's exports to
 * dist/src. Literal channel ports become free ports (see readme-examples.ts); nothing else in the
 * text changes. Each run is bounded, and what it prints is checked.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { stopAll } from '../../support/processes.js';
import { EXPECTED_EXAMPLE_COUNT, REPO_ROOT, checkExampleOutput, readmeExamples, runToExit, withFreePorts } from '../../support/readme-examples.js';

const RUN_TIMEOUT_MS = 30_000;

describe('README examples against the build', { timeout: 120_000 }, () => {
  const examples = readmeExamples();
  let dir = '';

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'skein-readme-'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(REPO_ROOT, join(dir, 'node_modules', 'skein'), 'dir');
    mkdirSync(join(dir, 'skein-dir'));
  });

  after(async () => {
    await stopAll();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('finds every example the expectations know', () => {
    assert.equal(examples.length, EXPECTED_EXAMPLE_COUNT, `README.md has ${examples.length} \`\`\`ts blocks`);
  });

  for (const example of examples) {
    it(`example ${example.index} (README line ${example.line}) runs, exits 0 and prints what it should`, async () => {
      const { code } = await withFreePorts(example.code);
      const { outputText, diagnostics } = ts.transpileModule(code, {
        compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
        reportDiagnostics: true,
      });
      assert.deepEqual(diagnostics?.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')) ?? [], [], 'the example parses');
      const file = join(dir, `example-${example.index}.mjs`);
      writeFileSync(file, outputText);
      const run = await runToExit(process.execPath, [file], { cwd: dir, env: { SKEIN_DIR: join(dir, 'skein-dir') }, timeoutMs: RUN_TIMEOUT_MS });
      checkExampleOutput(example, run.stdout, run.stderr);
    });
  }
});
