// test/setup/tap-summary.ts: the failures a TAP stream holds, listed again at its end.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { FailureCollector } from './tap-summary.ts'

const collect = (tap: string) => {
  const c = new FailureCollector()
  for (const line of tap.split('\n')) c.add(line)
  return c
}

const nested = `# Subtest: test/a.test.ts
    # Subtest: sessions
        ok 1 - saved
        not ok 2 - nothing saved from the failed request
          ---
          found: 1
          wanted: 0
          ...
        1..2
    not ok 1 - sessions # time=12ms
    # Subtest: other
        ok 1 - fine
    ok 2 - other
not ok 1 - test/a.test.ts # time=40ms
# Subtest: test/b.test.ts
    not ok 1 - timeout!
    ok 2 - skipped one # SKIP
    not ok 3 - a todo # TODO later
not ok 2 - test/b.test.ts
ok 3 - test/c.test.ts
`

const cases: Array<{ name: string; tap: string; paths: string[][] }> = [
  { name: 'all passing: nothing', tap: 'ok 1 - test/a.test.ts\n# { total: 1, pass: 1 }\n', paths: [] },
  { name: 'only the innermost failure of a nest, with its path', tap: nested, paths: [['test/a.test.ts', 'sessions', 'nothing saved from the failed request'], ['test/b.test.ts', 'timeout!']] },
  { name: 'a file that fails with no assertion inside (it crashed)', tap: '# Subtest: test/d.test.ts\n    1..0\nnot ok 1 - test/d.test.ts # time=3ms\n', paths: [['test/d.test.ts']] },
]

for (const c of cases) {
  t.test(c.name, async (t) => {
    t.same(collect(c.tap).failures.map((f) => f.path), c.paths)
  })
}

t.test('the diagnostic is kept and the summary names each failure', async (t) => {
  const collector = collect(nested)
  t.same(collector.failures[0].diagnostic.map((l) => l.trim()), ['found: 1', 'wanted: 0'])
  const summary = collector.summary()
  t.match(summary, /2 failures/)
  t.match(summary, /✖ test\/a\.test\.ts › sessions › nothing saved from the failed request\n\s+found: 1/)
  t.equal(collect('ok 1 - x\n').summary(), '')
})

t.test('as a program: TAP passes through unchanged and the summary follows', async (t) => {
  const run = spawnSync(process.execPath, ['test/setup/tap-summary.ts'], { input: nested, encoding: 'utf8' })
  t.equal(run.status, 0)
  t.ok(run.stdout.startsWith(nested), 'the stream is passed through first, as it came')
  t.match(run.stdout.slice(nested.length), /── 2 failures ──/)
})

t.test('npm test reports through it', async (t) => {
  const { readFileSync } = await import('node:fs')
  const taprc = readFileSync('.taprc', 'utf8')
  t.match(taprc, /^reporter: node$/m)
  t.match(taprc, /reporter-arg:\n\s+- test\/setup\/tap-summary\.ts/)
})

t.test('where the assertion is (at, stack, source) is left out; what was compared is kept', async (t) => {
  const tap = ['# Subtest: test/e.test.ts', '    not ok 1 - equal', '      ---', '      wanted: 2', '      at:', '        lineNumber: 2', '      source: >', '        t.equal(1,', '', '        2)', '      found: 1', '      ...', 'not ok 1 - test/e.test.ts'].join('\n')
  t.same(collect(tap).failures[0].diagnostic.map((l) => l.trim()), ['wanted: 2', 'found: 1'])
})
