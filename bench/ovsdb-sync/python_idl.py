"""The Python IDL side of bench/ovsdb-sync: ovs.db.idl (the engine of ovn-detrace) registers the
same tables and columns as ours and runs until the initial monitor reply is in the IDL.

Usage: /usr/bin/python3 python_idl.py REMOTE TABLES_JSON SCHEMA_JSON
Prints one JSON line: {mode, seconds, rows, maxRssKb}. The time runs from Idl creation (connect)
to the first change_seqno bump after has_ever_connected, so interpreter start-up is excluded.
"""
import json
import resource
import sys
import time

import ovs.db.idl
import ovs.poller


def main():
    remote, tables_file, schema_file = sys.argv[1:4]
    with open(tables_file) as f:
        tables = json.load(f)
    helper = ovs.db.idl.SchemaHelper(location=schema_file)
    for table, columns in tables.items():
        helper.register_columns(table, columns)

    t0 = time.monotonic()
    idl = ovs.db.idl.Idl(remote, helper)
    seqno = idl.change_seqno
    while True:
        idl.run()
        if idl.has_ever_connected() and idl.change_seqno != seqno:
            break
        poller = ovs.poller.Poller()
        idl.wait(poller)
        poller.block()
    seconds = time.monotonic() - t0
    rows = sum(len(t.rows) for t in idl.tables.values())
    print(json.dumps({
        "mode": "python-idl",
        "seconds": seconds,
        "rows": rows,
        "maxRssKb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }))
    idl.close()


if __name__ == "__main__":
    main()
