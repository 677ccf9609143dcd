// jest's globalTeardown: see run-tmpdir.ts.
import { removeRunTmpdir } from './run-tmpdir';

export default function runTmpdirTeardown(): void {
  removeRunTmpdir(process.env);
}
