#!/usr/bin/env bash
# /metrics against real agents, by Prometheus's conventions
# (docs/metrics.md): tests/tools/prom.py's checks (names, units last,
# HELP/TYPE, one label set per family, _total on counters only, histogram
# buckets) on a page scraped from the probe listener after a join and a
# kill -9, the histograms holding those events, the process_* families
# agreeing with /proc, and docs/metrics.md naming exactly the families the
# agent serves.
source "$(dirname "$0")/lib.sh"
PROM="$(cd "$(dirname "$0")/../tools" && pwd)/prom.py"
DOC="$(cd "$(dirname "$0")/../.." && pwd)/docs/metrics.md"

check "the checker catches each broken page it is fed (prom.py self-test)" \
	bash -c "python3 '$PROM' self-test >'$WORK/selftest.out'"
cat "$WORK/selftest.out" | sed 's/^/    /'

IPS=(127.0.41.1 127.0.41.2 127.0.41.3)
SENTRY=$(printf '%s:7946,' "${IPS[@]}"); SENTRY=${SENTRY%,}
start_agent n1 "${IPS[0]}" --sentry "$SENTRY" --probe "${IPS[0]}:7948" --tag groups=web
sleep 0.2 # n2 and n3 start after n1: their joins are timed by n1
start_agent n2 "${IPS[1]}" --sentry "$SENTRY" --tag groups=web
start_agent n3 "${IPS[2]}" --sentry "$SENTRY"
check "three agents see three alive members" wait_for 20 bash -c "[[ \$(python3 -c '
import json, sys, urllib.request
r = urllib.request.Request(\"http://${IPS[0]}:7947/v1/members\", headers={\"Authorization\": \"Bearer $CLOISTER_TOKEN\"})
print(sum(m[\"status\"] == \"alive\" for m in json.load(urllib.request.urlopen(r, timeout=3))))') == 3 ]]"
kill -KILL "${AGENT_PID[n3]}"
dead() { [[ $(member_status "${IPS[0]}" "itest@${IPS[2]}") == dead ]]; }
check "the killed agent is declared dead" wait_for 30 dead
sleep 1

# The probe listener: what Prometheus scrapes, without a token.
curl -q -s --max-time 5 "http://${IPS[0]}:7948/metrics" >"$WORK/metrics.txt"
check "a page was served by the probe listener ($(wc -l <"$WORK/metrics.txt") lines)" [ -s "$WORK/metrics.txt" ]
python3 "$PROM" check "$WORK/metrics.txt" >"$WORK/check.out"
rc=$?
sed 's/^/    /' "$WORK/check.out" | head -40
check "the page passes the conventions check ($(wc -l <"$WORK/check.out") problems)" [ $rc -eq 0 ]

val() { python3 "$PROM" value "$1" "$WORK/metrics.txt"; }
fams() { awk '$1 == "#" && $2 == "TYPE" { print $3 }' "$WORK/metrics.txt" | sort; }
check "drops are one family with a reason label, not one family per reason" \
	bash -c "grep -q '^cloister_packets_dropped_total{reason=\"auth\"} ' '$WORK/metrics.txt' &&
		! grep -q '^cloister_drops_' '$WORK/metrics.txt'"
n=$(val cloister_probe_rtt_seconds_count)
check "probe round trips were timed (cloister_probe_rtt_seconds_count $n)" [ "${n:-0}" -gt 0 ]
n=$(val 'cloister_suspicion_duration_seconds_count{outcome="dead"}')
s=$(val 'cloister_suspicion_duration_seconds_sum{outcome="dead"}')
check "the kill shows as a suspicion that ended dead (count $n, $s s)" [ "${n:-0}" -ge 1 ]
n=$(val cloister_join_convergence_seconds_count)
s=$(val cloister_join_convergence_seconds_sum)
check "the two later joins were timed (cloister_join_convergence_seconds_count $n, sum $s s)" [ "${n:-0}" -ge 2 ]
rss=$(val process_resident_memory_bytes)
proc_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/${AGENT_PID[n1]}/status")
check "process_resident_memory_bytes ($rss) agrees with /proc (VmRSS ${proc_kb} kB) within 25%" \
	python3 -c "import sys; a, b = float('$rss'), float('$proc_kb') * 1024; sys.exit(not (abs(a - b) <= 0.25 * b))"
n=$(val process_open_fds)
check "process_open_fds ($n) is the agent's descriptor count ($(ls "/proc/${AGENT_PID[n1]}/fd" | wc -l))" \
	python3 -c "import sys; sys.exit(not (abs($n - $(ls "/proc/${AGENT_PID[n1]}/fd" | wc -l)) <= 2))"
absent=""
for f in process_cpu_seconds_total process_start_time_seconds process_max_fds cloister_info cloister_health \
	cloister_suspicion_duration_seconds cloister_stream_connections_closed_total cloister_messages_dropped_total; do
	fams | grep -qx "$f" || absent+="$f "
done
check "the families every dashboard needs are there (absent: ${absent:-none})" [ -z "$absent" ]

# docs/metrics.md names exactly the families served.
doc_fams() { grep -oE '^\| `(cloister|process)_[a-z0-9_]+`' "$DOC" | tr -d '|` ' | sort -u; }
missing=$(comm -23 <(fams) <(doc_fams) | tr '\n' ' ')
stale=$(comm -13 <(fams) <(doc_fams) | tr '\n' ' ')
check "every family served is described in docs/metrics.md (undescribed: ${missing:-none})" [ -z "$missing" ]
check "every family in docs/metrics.md is served (only in the docs: ${stale:-none})" [ -z "$stale" ]
# The Grafana dashboard asks only for series the agent serves.
DASH="$(dirname "$DOC")/../contrib/grafana-cloister.json"
unknown=$(python3 - "$DASH" "$WORK/metrics.txt" <<'PY'
import json, re, sys
served = {l.split()[2] for l in open(sys.argv[2]) if l.startswith("# TYPE ")}
used = set()
for p in json.load(open(sys.argv[1]))["panels"]:
    for t in p["targets"]:
        used |= set(re.findall(r"\b((?:cloister|process)_[a-z_]+)", t["expr"]))
base = lambda n: re.sub(r"_(bucket|sum|count)$", "", n)
print(" ".join(sorted(n for n in used if n not in served and base(n) not in served)))
PY
)
check "contrib/grafana-cloister.json queries only served families (unknown: ${unknown:-none})" [ -z "$unknown" ]
finish
