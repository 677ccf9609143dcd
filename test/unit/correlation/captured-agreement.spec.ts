// Every captured trace of every OVS/OVN version, annotated with the model built from the NB/SB
// captured with it, against the real ovn-detrace output of that version's own ovn-detrace captured
// at the same time (traces/<ufid>.detrace.txt).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { capturedModel, capturedScenarios, VERSIONS, versionDir } from '../../support/captured-model';
import { Agreement, compareWithDetrace } from '../../support/detrace-agreement';

describe.each(VERSIONS)('annotation agrees with the captured ovn-detrace output of %s', (version) => {
  const model = capturedModel(undefined, version);
  const total: Agreement = { steps: 0, agree: 0, disagreements: [], extras: {}, passes: [] };
  let traces = 0;

  it.each(capturedScenarios(version))('%s', (scenario) => {
    const dir = join(versionDir(version), scenario, 'traces');
    const files = readdirSync(dir).filter((f) => f.endsWith('.txt') && !f.endsWith('.detrace.txt'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const detrace = join(dir, f.replace(/\.txt$/, '.detrace.txt'));
      const acc = compareWithDetrace(readFileSync(join(dir, f), 'utf8'), readFileSync(detrace, 'utf8'), model);
      traces++;
      total.steps += acc.steps;
      total.agree += acc.agree;
      total.disagreements.push(...acc.disagreements.map((d) => ({ ...d, step: `${scenario}/${f}: ${d.step}` })));
      for (const [k, v] of Object.entries(acc.extras)) total.extras[k] = (total.extras[k] ?? 0) + v;
      expect(acc.disagreements).toEqual([]);
    }
  });

  afterAll(() => {
    // The numbers the closing note reports, per version.
    console.log(
      `${version}: captured agreement over ${traces} traces: ${total.agree}/${total.steps} cookie steps equal to ovn-detrace; ` +
        `beyond it: ${JSON.stringify(total.extras)}; disagreements: ${total.disagreements.length}`,
    );
  });
});
