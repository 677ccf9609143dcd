// OpenAPI examples: real responses captured from a sandbox by scripts/capture-api-examples.
import captured from './captured-examples.json';

export const EXAMPLES = captured;
