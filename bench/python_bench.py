"""Driver of the Python comparator (python_transform.py) for `cargo bench -p firehose-transform`.

    python3 bench/python_bench.py EVENT.json ITERATIONS
        Runs the handler on the event ITERATIONS times (after one untimed warm-up) and prints one
        JSON line: medians in seconds per invocation, the count of Ok records, and hashes of what
        was produced so that the Rust side can check both produced the same records:
          median_s       handler + json.dumps of the response: the work firehose_transform::process
                         does (it returns the response already serialized);
          median_full_s  json.loads of the request + the above: what one invocation costs;
          key_hash       sha256 of the sorted record_keys joined by "\\n";
          lines_hash     sha256 of the sorted output lines (each with its "\\n") concatenated.

    python3 bench/python_bench.py --cold EVENT.json
        Imports the handler, runs it once on the event, writes the response to stdout and exits:
        timed from outside, from process start to response.
"""

import base64
import hashlib
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from python_transform import lambda_handler  # noqa: E402


def cold(path):
    with open(path, "rb") as f:
        event = json.load(f)
    response = lambda_handler(event, None)
    sys.stdout.write(json.dumps(response))
    sys.stdout.write("\n")


def bench(path, iterations):
    with open(path, "rb") as f:
        text = f.read()
    transform_times = []
    full_times = []
    for i in range(iterations + 1):
        t0 = time.perf_counter()
        event = json.loads(text)
        t1 = time.perf_counter()
        response = lambda_handler(event, None)
        json.dumps(response)
        t2 = time.perf_counter()
        if i > 0:  # the first run is a warm-up
            transform_times.append(t2 - t1)
            full_times.append(t2 - t0)

    keys = []
    lines = []
    for record in response["records"]:
        if record["result"] == "Ok":
            line = base64.b64decode(record["data"])
            lines.append(line)
            keys.append(json.loads(line)["record_key"])
    print(
        json.dumps(
            {
                "python": sys.version.split()[0],
                "bytes": len(text),
                "records": len(response["records"]),
                "ok": len(keys),
                "iterations": iterations,
                "median_s": statistics.median(transform_times),
                "median_full_s": statistics.median(full_times),
                "key_hash": hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest(),
                "lines_hash": hashlib.sha256(b"".join(sorted(lines))).hexdigest(),
            }
        )
    )


def main(argv):
    if len(argv) == 3 and argv[1] == "--cold":
        cold(argv[2])
    elif len(argv) == 3 and not argv[1].startswith("-") and argv[2].isdigit() and int(argv[2]) > 0:
        bench(argv[1], int(argv[2]))
    else:
        sys.exit(f"usage: {argv[0]} EVENT.json ITERATIONS | {argv[0]} --cold EVENT.json")


if __name__ == "__main__":
    main(sys.argv)
