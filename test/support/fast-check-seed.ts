// Every property test (fast-check) runs from one fixed seed, so that CI is repeatable: an unseeded
// run once found, at random, an old disagreement between two parsers and turned a green tree red.
// To explore new inputs by hand: LIVETRACE_FC_SEED=random (or a number) npx jest ...; a failure
// prints its seed and path, and the input found becomes a table case next to the property.
import * as fc from 'fast-check';

const wanted = process.env.LIVETRACE_FC_SEED;
if (wanted !== 'random') {
  const seed = wanted === undefined || wanted === '' ? 20261205 : Number(wanted);
  if (!Number.isInteger(seed)) throw new Error(`LIVETRACE_FC_SEED must be an integer or 'random', not ${JSON.stringify(wanted)}`);
  fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
}
