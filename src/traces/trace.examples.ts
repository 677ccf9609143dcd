import { EXAMPLES } from '../openapi/examples';

export const TRACE_EXAMPLE = EXAMPLES.trace;
export const TRACE_LIST_EXAMPLE = EXAMPLES.traceList;
