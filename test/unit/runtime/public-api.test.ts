/**
 * The published declarations of `penguiflow` (dist/runtime/index.d.ts, built
 * by the global setup) expose exactly the API the README documents: no
 * undocumented export, no documented name missing, no member of `Flow` or
 * `Context` beyond the documented ones, nothing tagged `@internal` and no
 * engine internals reachable. The `penguiflow/server` declarations, which
 * refer to runtime types, still type-check for a consumer.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const DIST = join(ROOT, 'dist');
const INDEX = join(DIST, 'runtime/index.d.ts');

/** The names in the first column of the README's "Runtime API" table: exports, and `flow.x` / `ctx.x` members. */
function documented(): { exports: Set<string>; flow: Set<string>; ctx: Set<string> } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('### Runtime API');
  const section = readme.slice(start, readme.indexOf('\n#', start + 1));
  const out = { exports: new Set<string>(), flow: new Set<string>(), ctx: new Set<string>() };
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const firstCell = line.slice(2, line.indexOf(' | ', 2));
    for (const [, span] of firstCell.matchAll(/`([^`]+)`/g)) {
      const m = /^(?:new\s+)?(?:(flow|ctx)\.)?([A-Za-z_$][\w$]*)/.exec(span!);
      if (m === null) throw new Error(`README Runtime API: cannot read a name from \`${span}\``);
      const [, owner, name] = m;
      (owner === 'flow' ? out.flow : owner === 'ctx' ? out.ctx : out.exports).add(name!);
    }
  }
  return out;
}

const sorted = (names: Iterable<string>): string[] => [...names].sort();

/** Public members of a class or interface, as a consumer sees them (no `#private` marker, no constructor). */
function membersOf(checker: ts.TypeChecker, symbol: ts.Symbol): Set<string> {
  const type = checker.getDeclaredTypeOfSymbol(symbol);
  return new Set(
    checker
      .getPropertiesOfType(type)
      .map((p) => p.getName())
      .filter((n) => !n.startsWith('#') && !n.startsWith('__#')),
  );
}

describe('published declarations of penguiflow', () => {
  const program = ts.createProgram([INDEX], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true, noEmit: true, types: ['node'] });
  const checker = program.getTypeChecker();
  const index = program.getSourceFile(INDEX)!;
  const exports = new Map(checker.getExportsOfModule(checker.getSymbolAtLocation(index)!).map((s) => [s.getName(), s]));
  const docs = documented();

  it('export exactly the names the README documents', () => {
    expect(docs.exports.size).toBeGreaterThan(50);
    expect(sorted(exports.keys())).toEqual(sorted(docs.exports));
  });

  it('give Flow and Context exactly their documented members', () => {
    expect(sorted(membersOf(checker, checker.getAliasedSymbol(exports.get('Flow')!)))).toEqual(sorted(docs.flow));
    expect(sorted(membersOf(checker, checker.getAliasedSymbol(exports.get('Context')!)))).toEqual(sorted(docs.ctx));
  });

  it('carry nothing tagged @internal and reach no engine or internal module', () => {
    const reachable = program
      .getSourceFiles()
      .map((f) => f.fileName)
      .filter((f) => resolve(f).startsWith(DIST + sep));
    expect(reachable.length).toBeGreaterThan(10);
    const leaks = reachable.filter((f) => /[/\\](engine|internal)[/\\]/.test(relative(DIST, f)) || readFileSync(f, 'utf8').includes('@internal'));
    expect(leaks.map((f) => relative(DIST, f))).toEqual([]);
  });

  it('type-check, with penguiflow/server, for a consumer that checks declaration files (skipLibCheck off)', () => {
    // Inside the package, so `penguiflow` resolves to this package's own exports (dist/).
    const dir = mkdtempSync(join(ROOT, 'test/.tmp-api-'));
    try {
      const consumer = join(dir, 'consumer.ts');
      writeFileSync(
        consumer,
        [
          "import { create, defineFlow, Node, type Context, type FlowDefinition, type Message } from 'penguiflow';",
          "import * as server from 'penguiflow/server';",
          "const echo = new Node((m: Message<string>, ctx: Context) => (ctx.signal.aborted ? undefined : m), { name: 'echo' });",
          "export const def: FlowDefinition = defineFlow({ name: 'echo', build: ({ queueMaxsize }) => create([echo.to()], { queueMaxsize }) });",
          'export const api = server;',
        ].join('\n'),
      );
      const check = ts.createProgram([consumer], {
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        target: ts.ScriptTarget.ES2022,
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: ['node'],
      });
      const ours = check.getSourceFiles().filter((f) => resolve(f.fileName).startsWith(DIST + sep) || resolve(f.fileName) === consumer);
      expect(ours.some((f) => f.fileName.includes('/server/'))).toBe(true);
      const diagnostics = [...check.getGlobalDiagnostics(), ...ours.flatMap((f) => [...check.getSyntacticDiagnostics(f), ...check.getSemanticDiagnostics(f)])];
      expect(diagnostics.map((d) => `${d.file ? relative(ROOT, d.file.fileName) : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
