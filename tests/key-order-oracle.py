#!/usr/bin/env python3
"""Group keys of every JSON type, and the order fx-agg must write them in.

  key-order-oracle.py gen   > events.ndjson   (two 1-minute windows)
  key-order-oracle.py check < fx-agg output   (exit 1 on the first row out of order)

The expected order is fx-agg(1)'s, computed here independently: window end,
window start, then each group field by null < false < true < numbers (by
value; a tie between spellings by their bytes) < strings (by the bytes
between the quotes) < arrays < objects (by their bytes).
"""
import json
import random
import sys

FIRST = [
    "null", "true", "false", "0", "-0", "1", "1.0", "1.5", "-1", "-2.25",
    "7", "10", "-7", "100000", "1e300", "-1e300", "0.001",
    "1125899906842625", "1125899906842626", "1125899906842627",  # 2^50+1..3
    "-1125899906842625", "9007199254740993", "4611686018427387904",
    '""', '"a"', '"a b"', '"a!"', '"ab"', '"abcdefg"', '"abcdefgh"',
    '"abcdefgi"', '"abcdefg h"', '"province-anhui"', '"province-hunan"',
    '"province-an"', '"Z"', '"é"', '"ü"', '"~"', "[1,2]", "[1]", '{"a":1}',
]
SECOND = ['"android"', '"ios"', '"web"', "2", "-3", "null", '"ios "']


def rank(v):
    if v is None:
        return 0
    if v is False:
        return 1
    if v is True:
        return 2
    if isinstance(v, (int, float)):
        return 3
    if isinstance(v, str):
        return 4
    return 5 if isinstance(v, list) else 6


def field_key(raw):
    v = json.loads(raw)
    r = rank(v)
    if r == 3:
        return (r, v, raw.encode())
    if r == 4:
        return (r, 0, raw[1:-1].encode())
    return (r, 0, raw.encode())


def gen():
    rnd = random.Random(7)
    rows = []
    for minute in (0, 1):
        for a in FIRST:
            for b in SECOND:
                if minute == 1 and rnd.random() < 0.5:
                    continue
                for _ in range(rnd.randint(1, 3)):
                    ms = minute * 60000 + rnd.randint(0, 59999)
                    rows.append((ms, a, b))
    rows.sort(key=lambda r: r[0])
    for ms, a, b in rows:
        t = "2026-11-23T00:%02d:%02d.%03dZ" % (ms // 60000, ms // 1000 % 60, ms % 1000)
        print('{"event_time":"%s","k1":%s,"k2":%s,"v":1}' % (t, a, b))


def raw_fields(line):
    """k1 and k2 as written: json.loads would lose 1 vs 1.0 and -0 vs 0."""
    dec = json.JSONDecoder()
    out = {}
    for name in ("k1", "k2"):
        at = line.index('"%s":' % name) + len(name) + 3
        _, end = dec.raw_decode(line, at)
        out[name] = line[at:end]
    return out["k1"], out["k2"]


def check():
    prev = None
    n = 0
    for line in sys.stdin:
        row = json.loads(line)
        k1, k2 = raw_fields(line)
        key = (row.get("window_end", ""), row.get("window_start", ""),
               field_key(k1), field_key(k2))
        if prev is not None and not prev < key:
            print("out of order at row %d: %s after %s" % (n + 1, key, prev))
            sys.exit(1)
        prev = key
        n += 1
    print(n)


if __name__ == "__main__":
    gen() if sys.argv[1] == "gen" else check()
