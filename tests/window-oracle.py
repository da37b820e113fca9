#!/usr/bin/env python3
"""An independent model of fx-agg's documented window semantics (fx-agg(1)),
for the cases the tests give it: one input partition, one group field.

  window-oracle.py ARGS < input.ndjson      writes the rows fx-agg should
                                            write (and late.ndjson with the
                                            records --late dlq= should get)
  window-oracle.py check EXPECTED GOT       compares row lists: same rows,
                                            same order, same values (floats
                                            exactly), same key order

ARGS: --time F --window tumble:S|hop:S/L|cumulate:STEP/MAX|session:GAP
      [--lateness D] [--by K] [--late drop|dlq=FILE|update] [--retain D]
      --agg count,sum:F,avg:F,first:F,last:F

The rules, from the man page, written down here without looking at the C:
- watermark = highest event time seen - lateness (never goes back);
- a window [start, end) closes when the watermark reaches its end; closed
  windows are written sorted by end, start, then key;
- a record of a fixed window (tumble, hop, cumulate) is late when the
  earliest-ending window it belongs to has closed: it is then counted in no
  window (drop, dlq) or, with --late update, added to every one of its
  windows: the open ones as usual, and each closed one (within --retain,
  even one that had no row yet) gets its corrected row at once;
- a session record is late when its time is below the watermark;
- sum is exact: integers as integers, with any fraction the correctly
  rounded sum (math.fsum); avg = fsum / n; first/last by event time, ties
  by value (first takes the least, last the greatest).
"""
import datetime
import json
import math
import re
import sys

UNITS = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000}


def dur(s):
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)", s)
    return int(m.group(1)) * UNITS[m.group(2)]


def ms(s):
    d = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    e = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return (d - e) // datetime.timedelta(milliseconds=1)


def iso(t):
    d = datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=t)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t % 1000)


def windows(spec, t):
    kind, arg = spec.split(":", 1)
    if kind == "tumble":
        size = dur(arg)
        s = t // size * size
        return [(s, s + size)]
    if kind == "hop":
        size, slide = map(dur, arg.split("/"))
        last = t // slide * slide
        ws = [(s, s + size) for s in range(last - size + slide, last + 1, slide)]
        return sorted((w for w in ws if w[0] <= t < w[1]), key=lambda w: (w[1], w[0]))
    if kind == "cumulate":
        step, mx = map(dur, arg.split("/"))
        s = t // mx * mx
        return [(s, e) for e in range(s + step, s + mx + 1, step) if t < e]
    raise ValueError(spec)


class State:
    def __init__(self):
        self.recs = []  # (t, record)

    def row(self, aggs):
        out = []
        for name, fn, f in aggs:
            vals = [(t, r[f]) for t, r in self.recs if f and r.get(f) is not None]
            if fn == "count":
                out.append((name, len(self.recs)))
            elif fn in ("sum", "avg"):
                xs = [v for _, v in vals]
                if not xs:
                    out.append((name, None))
                elif fn == "sum" and all(isinstance(x, int) for x in xs):
                    out.append((name, sum(xs)))
                else:
                    s = math.fsum(xs)
                    out.append((name, s if fn == "sum" else s / len(xs)))
            elif fn == "first":
                out.append((name, min(vals, key=lambda tv: (tv[0], tv[1]))[1] if vals else None))
            elif fn == "last":
                out.append((name, max(vals, key=lambda tv: (tv[0], tv[1]))[1] if vals else None))
        return out


def run(argv):
    a = dict(zip(argv[0::2], argv[1::2]))
    tf, spec = a["--time"], a["--window"]
    lateness = dur(a.get("--lateness", "0ms"))
    retain = dur(a.get("--retain", "1h"))
    by = a.get("--by")
    late = a.get("--late", "drop")
    aggs = []
    for s in a["--agg"].split(","):
        fn, _, f = s.partition(":")
        aggs.append((fn if not f else fn + "_" + f, fn, f or None))
    out, dlq = [], []
    wm = None
    hi = None
    open_ = {}  # (start, end, key) -> State
    kept = {}  # closed windows, for update
    sessions = {}  # key -> list of [start, end, State]

    def emit(start, end, key, st):
        row = [("window_start", iso(start)), ("window_end", iso(end))]
        if by:
            row.append((by, key))
        out.append(row + st.row(aggs))

    def close(upto, final=False):
        if spec.startswith("session"):
            done = []
            for key, ss in sessions.items():
                for s in ss:
                    if final or s[1] <= upto:
                        done.append((s[1], s[0], key, s))
            for end, start, key, s in sorted(done, key=lambda x: (x[0], x[1], x[2])):
                sessions[key].remove(s)
                emit(start, end, key, s[2])
            return
        for w in sorted((w for w in open_ if final or w[1] <= upto),
                        key=lambda w: (w[1], w[0], w[2])):
            emit(w[0], w[1], w[2], open_[w])
            kept[w] = open_.pop(w)

    for line in sys.stdin:
        r = json.loads(line)
        if r.get("_fx") == "watermark":  # raises the watermark, forwarded
            if wm is None or ms(r["ts"]) > wm:
                wm = ms(r["ts"])
                close(wm)
            out.append(list(r.items()))
            continue
        t = ms(r[tf])
        key = r.get(by) if by else None
        if spec.startswith("session"):
            gap = dur(spec.split(":")[1])
            if wm is not None and t < wm:
                dlq.append(line)
            else:
                ss = sessions.setdefault(key, [])
                new = [t, t + gap, State()]
                new[2].recs.append((t, r))
                for s in [s for s in ss if s[0] < new[1] and new[0] < s[1]]:
                    ss.remove(s)
                    new = [min(s[0], new[0]), max(s[1], new[1]), new[2]]
                    new[2].recs += s[2].recs
                ss.append(new)
        else:
            ws = windows(spec, t)
            if wm is not None and ws[0][1] <= wm:
                dlq.append(line)
                if late == "update":
                    for s, e in ws:
                        w = (s, e, key)
                        if e > wm:
                            open_.setdefault(w, State()).recs.append((t, r))
                        elif e + retain > wm:
                            kept.setdefault(w, State()).recs.append((t, r))
                            emit(s, e, key, kept[w])
            else:
                for s, e in ws:
                    open_.setdefault((s, e, key), State()).recs.append((t, r))
        hi = t if hi is None else max(hi, t)
        if wm is None or hi - lateness > wm:
            wm = hi - lateness
            close(wm)
    close(None, final=True)
    for row in out:
        print(json.dumps(dict(row), separators=(",", ":")))
    if late.startswith("dlq="):
        with open(late[4:], "w") as f:
            f.writelines(dlq)


def check(want_file, got_file):
    want = [json.loads(l, object_pairs_hook=list) for l in open(want_file)]
    got = [json.loads(l, object_pairs_hook=list) for l in open(got_file)]
    for i, (w, g) in enumerate(zip(want, got)):
        if w != g or any(type(a[1]) is float and a[1] != b[1] for a, b in zip(w, g)):
            print("row %d differs:\n want %s\n got  %s" % (i + 1, w, g))
            return 1
    if len(want) != len(got):
        print("%d rows wanted, %d written" % (len(want), len(got)))
        return 1
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["check"]:
        sys.exit(check(sys.argv[2], sys.argv[3]))
    run(sys.argv[1:])
