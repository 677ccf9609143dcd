#!/bin/sh
# bench/parse: ours vs ovs.flow.odp.ODPFlow on a 200k-flow dump. Args: [FLOWS] [PYTHON_SAMPLE]
cd "$(dirname "$0")/../.." && exec npx ts-node --swc -P tsconfig.json bench/parse/run.ts "$@"
