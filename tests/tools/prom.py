#!/usr/bin/env python3
"""prom.py: read a Prometheus text page (format 0.0.4) the way tests need it.

  prom.py check [FILE|-]         lint the page in the spirit of
                                 `promtool check metrics` (not in Debian):
                                 exit 1 and one line per problem
  prom.py value NAME [FILE|-]    the value of a runtime counter (the
                                 cloister_counters() name: drops_auth,
                                 bytes_out, user_in, ...) or of a series
                                 ('cloister_probes_total',
                                 'cloister_packets_dropped_total{reason="auth"}');
                                 prints nothing when absent
  prom.py self-test              feeds the checker pages that break each
                                 rule and fails unless every one is caught

The runtime's counters are published under Prometheus names by
src/agent/metrics.c; COUNTERS below mirrors its table so tests can keep
asking for a counter by its runtime name (docs/metrics.md lists both).
"""
import math
import re
import sys

# runtime counter -> (family, label name, label value)
COUNTERS = {
    "packets_in": ("cloister_packets_received_total", None, None),
    "packets_out": ("cloister_packets_sent_total", None, None),
    "streams_in": ("cloister_streams_received_total", None, None),
    "streams_out": ("cloister_streams_sent_total", None, None),
    "bytes_in": ("cloister_received_bytes_total", None, None),
    "bytes_out": ("cloister_sent_bytes_total", None, None),
    "probes": ("cloister_probes_total", None, None),
    "probe_failures": ("cloister_probe_failures_total", None, None),
    "indirect_probes": ("cloister_indirect_probes_total", None, None),
    "stream_pings": ("cloister_stream_pings_total", None, None),
    "stream_ping_rescues": ("cloister_stream_ping_rescues_total", None, None),
    "suspicions": ("cloister_suspicions_total", None, None),
    "refutations": ("cloister_refutations_total", None, None),
    "deaths_declared": ("cloister_deaths_declared_total", None, None),
    "pushpulls": ("cloister_pushpulls_total", None, None),
    "checksum_syncs": ("cloister_checksum_syncs_total", None, None),
    "pushpulls_skipped": ("cloister_pushpulls_skipped_total", None, None),
    "members_refused": ("cloister_members_refused_total", None, None),
    "rival_checks": ("cloister_rival_checks_total", None, None),
    "stale_doubts_answered": ("cloister_stale_doubts_answered_total", None, None),
    "connections_refused": ("cloister_stream_connections_closed_total", "reason", "refused"),
    "connections_evicted": ("cloister_stream_connections_closed_total", "reason", "evicted"),
    "connections_deadline": ("cloister_stream_connections_closed_total", "reason", "deadline"),
    "streams_over_budget": ("cloister_stream_connections_closed_total", "reason", "over_budget"),
    "connections_unread": ("cloister_stream_connections_closed_total", "reason", "unread"),
    "connections_stalled": ("cloister_stream_connections_closed_total", "reason", "stalled"),
    "send_errors": ("cloister_send_errors_total", None, None),
    "sealed_v1_in": ("cloister_sealed_v1_packets_total", "direction", "in"),
    "sealed_v1_out": ("cloister_sealed_v1_packets_total", "direction", "out"),
    "user_in": ("cloister_messages_received_total", None, None),
    "user_out": ("cloister_messages_sent_total", None, None),
    "user_in_dropped": ("cloister_messages_dropped_total", "reason", "queue_full"),
    "user_in_forged": ("cloister_messages_dropped_total", "reason", "forged"),
    "replies_refused": ("cloister_messages_dropped_total", "reason", "unexpected_reply"),
    "user_out_refused": ("cloister_messages_refused_total", None, None),
    "multicalls": ("cloister_multicalls_total", None, None),
    "ring_refusals": ("cloister_ring_refusals_total", None, None),
    "calls_deferred": ("cloister_calls_deferred_total", None, None),
    "calls_defer_refused": ("cloister_calls_defer_refused_total", None, None),
    "calls_deferred_dropped": ("cloister_calls_deferred_dropped_total", None, None),
    "superseded": ("cloister_superseded", None, None),
    "health": ("cloister_health", None, None),
    "insecure": ("cloister_insecure", None, None),
}

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$")
PAIR = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')
# Units: base units only, spelled out, and last (before _total and the
# histogram suffixes).  promtool flags the same abbreviations.
BASE_UNITS = ("seconds", "bytes", "ratio", "celsius", "meters", "volts",
              "amperes", "joules", "grams", "info")
NON_BASE = {"milliseconds": "seconds", "microseconds": "seconds",
            "nanoseconds": "seconds", "minutes": "seconds", "hours": "seconds",
            "ms": "seconds", "us": "seconds", "sec": "seconds", "secs": "seconds",
            "kilobytes": "bytes", "megabytes": "bytes", "kb": "bytes",
            "mb": "bytes", "kib": "bytes", "mib": "bytes", "percent": "ratio"}
GENERIC_HELP = re.compile(r"UNDESCRIBED|^Node counter |^TODO", re.I)


def parse_labels(text):
    labels, pos = {}, 0
    while pos < len(text):
        m = PAIR.match(text, pos)
        if not m:
            raise ValueError("bad label text: " + text[pos:pos + 40])
        labels[m.group(1)] = m.group(2)
        pos = m.end()
    return labels


def parse(text):
    """-> (families {name: {"help", "type", "samples": [(series, labels, value)]}}, problems)"""
    fams, problems, order = {}, [], []
    current = None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            if len(parts) < 4 or not parts[3].strip():
                problems.append(f"line {n}: {parts[1]} without text: {line}")
                continue
            kind, name, rest = parts[1], parts[2], parts[3]
            f = fams.setdefault(name, {"help": None, "type": None, "samples": [], "line": n})
            key = kind.lower()
            if f[key] is not None:
                problems.append(f"line {n}: a second {kind} for {name}")
            if f["samples"]:
                problems.append(f"line {n}: {kind} for {name} after its samples")
            f[key] = rest
            if name not in order:
                order.append(name)
            current = name
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            problems.append(f"line {n}: not a sample: {line}")
            continue
        series, labels_text, value = m.group(1), m.group(3) or "", m.group(4)
        try:
            labels = parse_labels(labels_text)
        except ValueError as e:
            problems.append(f"line {n}: {e}")
            continue
        try:
            v = float(value)
        except ValueError:
            problems.append(f"line {n}: value is not a number: {value}")
            continue
        fam = series
        for suffix in ("_bucket", "_sum", "_count"):
            base = series[: -len(suffix)] if series.endswith(suffix) else None
            if base and base in fams and fams[base]["type"] in ("histogram", "summary"):
                fam = base
        if fam not in fams:
            problems.append(f"line {n}: sample of {series} before its HELP and TYPE")
            fams[fam] = {"help": None, "type": None, "samples": [], "line": n}
        elif fam != current:
            problems.append(f"line {n}: {series} is not next to the rest of its family")
        current = fam
        fams[fam]["samples"].append((series, labels, v))
    return fams, problems


def check(text):
    fams, problems = parse(text)
    seen = set()
    for name, f in fams.items():
        where = name
        if not NAME.match(name):
            problems.append(f"{where}: invalid metric name")
        if name != name.lower():
            problems.append(f"{where}: not snake_case")
        if f["help"] is None:
            problems.append(f"{where}: no HELP")
        elif GENERIC_HELP.search(f["help"]) or len(f["help"].split()) < 3:
            problems.append(f"{where}: HELP does not say what it is: {f['help']!r}")
        t = f["type"]
        if t is None:
            problems.append(f"{where}: no TYPE")
        elif t not in ("counter", "gauge", "histogram", "summary", "untyped"):
            problems.append(f"{where}: unknown TYPE {t}")
        if t == "counter" and not name.endswith("_total"):
            problems.append(f"{where}: a counter's name must end in _total")
        if t != "counter" and name.endswith("_total"):
            problems.append(f"{where}: only counters end in _total")
        words = name.split("_")
        core = words[:-1] if t == "counter" else words
        for i, w in enumerate(core):
            if w in NON_BASE:
                problems.append(f"{where}: '{w}' is not a base unit: use {NON_BASE[w]}")
            if w in BASE_UNITS and i != len(core) - 1 and not name.startswith("process_"):
                problems.append(f"{where}: the unit '{w}' must come last")
        if not f["samples"]:
            problems.append(f"{where}: HELP and TYPE but no sample")
        # Label sets: one per family (histograms: plus le on buckets).
        sets = {}
        for series, labels, v in f["samples"]:
            for k in labels:
                if not LABEL.match(k) or k.startswith("__"):
                    problems.append(f"{where}: invalid label name {k}")
            key = (series, tuple(sorted(labels.items())))
            if key in seen:
                problems.append(f"{where}: duplicate series {series}{labels}")
            seen.add(key)
            names = set(labels) - ({"le"} if series.endswith("_bucket") else set())
            sets.setdefault(frozenset(names), 0)
            sets[frozenset(names)] += 1
            if t == "counter" and (v < 0 or math.isnan(v)):
                problems.append(f"{where}: negative or NaN counter {v}")
        if len(sets) > 1:
            problems.append(f"{where}: samples with different label sets: {sorted(map(sorted, sets))}")
        if t == "histogram":
            problems += check_histogram(name, f["samples"])
    return problems


def check_histogram(name, samples):
    problems, groups = [], {}
    for series, labels, v in samples:
        rest = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
        g = groups.setdefault(rest, {"buckets": [], "sum": None, "count": None})
        if series == name + "_bucket":
            if "le" not in labels:
                problems.append(f"{name}: a bucket without le")
                continue
            g["buckets"].append((float(labels["le"]), v))
        elif series == name + "_sum":
            g["sum"] = v
        elif series == name + "_count":
            g["count"] = v
        else:
            problems.append(f"{name}: unexpected series {series} in a histogram")
    for rest, g in groups.items():
        b = g["buckets"]
        les = [le for le, _ in b]
        if not b or les[-1] != math.inf:
            problems.append(f"{name}{dict(rest)}: no le=\"+Inf\" bucket last")
        if les != sorted(les) or len(set(les)) != len(les):
            problems.append(f"{name}{dict(rest)}: bucket bounds not ascending")
        counts = [c for _, c in b]
        if counts != sorted(counts):
            problems.append(f"{name}{dict(rest)}: buckets not cumulative")
        if g["count"] is None or g["sum"] is None:
            problems.append(f"{name}{dict(rest)}: _sum or _count missing")
        elif b and g["count"] != counts[-1]:
            problems.append(f"{name}{dict(rest)}: _count {g['count']} != +Inf bucket {counts[-1]}")
    return problems


def value(text, what):
    fams, _ = parse(text)
    if what in COUNTERS:
        fam, lk, lv = COUNTERS[what]
        want = {lk: lv} if lk else {}
    elif what.startswith("drops_"):
        fam, want = "cloister_packets_dropped_total", {"reason": what[6:]}
    else:
        m = SAMPLE.match(what + " 0")
        if not m:
            return None
        fam, want = m.group(1), parse_labels(m.group(3) or "")
    for f in fams.values():
        for series, labels, v in f["samples"]:
            if series == fam and labels == want:
                return v
    return None


SELF_TEST = {
    "counter without _total": "# HELP a_b Counts things here.\n# TYPE a_b counter\na_b 1\n",
    "gauge with _total": "# HELP a_total Level of things.\n# TYPE a_total gauge\na_total 1\n",
    "no HELP": "# TYPE a_total counter\na_total 1\n",
    "generic HELP": "# HELP a_total Node counter a since start.\n# TYPE a_total counter\na_total 1\n",
    "undescribed HELP": "# HELP a_total UNDESCRIBED runtime counter: fix.\n# TYPE a_total counter\na_total 1\n",
    "sample before TYPE": "a_total 1\n# HELP a_total Counts things here.\n# TYPE a_total counter\n",
    "unit not last": "# HELP a_bytes_out_total Bytes sent out.\n# TYPE a_bytes_out_total counter\na_bytes_out_total 1\n",
    "non-base unit": "# HELP a_latency_ms Latency of things.\n# TYPE a_latency_ms gauge\na_latency_ms 1\n",
    "label sets differ": "# HELP a_total Counts things here.\n# TYPE a_total counter\n"
                         "a_total{reason=\"x\"} 1\na_total{why=\"y\"} 1\n",
    "duplicate series": "# HELP a_total Counts things here.\n# TYPE a_total counter\na_total 1\na_total 2\n",
    "histogram not cumulative": "# HELP h_seconds Time of things.\n# TYPE h_seconds histogram\n"
                                "h_seconds_bucket{le=\"1\"} 5\nh_seconds_bucket{le=\"+Inf\"} 3\n"
                                "h_seconds_sum 1\nh_seconds_count 3\n",
    "histogram without +Inf": "# HELP h_seconds Time of things.\n# TYPE h_seconds histogram\n"
                              "h_seconds_bucket{le=\"1\"} 1\nh_seconds_sum 1\nh_seconds_count 1\n",
    "histogram count mismatch": "# HELP h_seconds Time of things.\n# TYPE h_seconds histogram\n"
                                "h_seconds_bucket{le=\"+Inf\"} 2\nh_seconds_sum 1\nh_seconds_count 3\n",
    "family split": "# HELP a_total Counts things here.\n# TYPE a_total counter\na_total{r=\"x\"} 1\n"
                    "# HELP b Level of things.\n# TYPE b gauge\nb 1\na_total{r=\"y\"} 1\n",
    "bad value": "# HELP b Level of things.\n# TYPE b gauge\nb one\n",
    "camelCase": "# HELP fooBar Level of things.\n# TYPE fooBar gauge\nfooBar 1\n",
}
GOOD = ("# HELP a_sent_bytes_total Bytes sent to peers.\n# TYPE a_sent_bytes_total counter\n"
        "a_sent_bytes_total 10\n# HELP a_drops_total Packets dropped by reason.\n"
        "# TYPE a_drops_total counter\na_drops_total{reason=\"x\"} 1\na_drops_total{reason=\"y\"} 0\n"
        "# HELP h_seconds Time of things.\n# TYPE h_seconds histogram\n"
        "h_seconds_bucket{o=\"a\",le=\"0.5\"} 1\nh_seconds_bucket{o=\"a\",le=\"+Inf\"} 2\n"
        "h_seconds_sum{o=\"a\"} 1.5\nh_seconds_count{o=\"a\"} 2\n")


def self_test():
    bad = 0
    if check(GOOD):
        print("FAIL: a good page was refused:", check(GOOD))
        bad += 1
    for what, page in SELF_TEST.items():
        found = check(page)
        print(("ok: " if found else "FAIL: not caught: ") + what + (f" -> {found[0]}" if found else ""))
        bad += not found
    return bad


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    if argv[1] == "self-test":
        return 1 if self_test() else 0
    def read(i):
        if len(argv) > i and argv[i] != "-":
            with open(argv[i]) as f:
                return f.read()
        return sys.stdin.read()
    if argv[1] == "check":
        problems = check(read(2))
        for p in problems:
            print(p)
        return 1 if problems else 0
    if argv[1] == "value" and len(argv) >= 3:
        v = value(read(3), argv[2])
        if v is not None:
            print(int(v) if v == int(v) else v)
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
