#!/usr/bin/env bash
# test_unread_output.sh — many streams that never read their answers.
#
# One keyed agent on 127.0.37.1 and a key holder (tests/tools/streampeer.c)
# opening STREAMS connections to its stream port from SOURCES addresses
# 127.0.37.11.. (the agent takes at most 16 from one address), each
# sending FRAMES packets of 200 pings (200 acks to write back) and never
# reading.  One connection's unread answers are bounded (two full frames,
# 32 MiB: test_stream_reply.sh); this test checks the bound across them
# all (64 MiB unread in total, src/runtime/loop.c): before it, 48 such
# connections of 600 frames made the agent hold about 6 MiB each, its RSS
# up by 300-309 MiB and still there once they were gone (and up to
# 32 MiB each with longer streams).  Checks:
#   - the agent's RSS grows by less than RSS_BOUND_MB while the streams
#     run (sampled every 0.5 s);
#   - the streams were answered and cut (most stopped before FRAMES);
#   - the agent still answers its API, and its RSS stays under the bound
#     once the streams are gone.
source "$(dirname "$0")/lib.sh"
# Under AddressSanitizer (make asan) freed memory stays resident in its
# quarantine, 256 MiB by default: kept small, RSS measures what is live.
export ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}quarantine_size_mb=8

PEER=${CLOISTER_STREAMPEER:-$(dirname "$CLOISTER")/tests/cloister_streampeer}
[[ -x $PEER ]] || { echo "SKIP: no streampeer tool at $PEER"; exit 77; }
IP=127.0.37.1
SOURCES=${UNREAD_SOURCES:-4}       # source addresses 127.0.37.11 ...
PER_SOURCE=${UNREAD_PER_SOURCE:-12} # connections from each (at most 16)
FRAMES=${UNREAD_FRAMES:-600}
RSS_BOUND_MB=160
STREAMS=$((SOURCES * PER_SOURCE))

(umask 077 && "$CLOISTER" keygen >"$WORK/cluster.key")
# A pool larger than the streams: what is measured is the output bound,
# not the pool's.
start_agent a "$IP" --name alpha --consensus 1 --key-file "$WORK/cluster.key" \
	--max-connections 512
check "the keyed agent is ready" wait_for 20 http "$IP" /ready

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/${AGENT_PID[a]}/status"; }
rss0=$(rss_kib)
errs0=$(counter "$IP" send_errors)

t0=$SECONDS
peers=()
for s in $(seq 1 "$SOURCES"); do
	for i in $(seq 1 "$PER_SOURCE"); do
		# A sender of its own: one sender's frames on 48 connections
		# would interleave their times past its replay window.
		STREAMPEER_BIND=127.0.37.$((10 + s)) STREAMPEER_SENDER=peer-$s-$i \
			timeout 60 "$PEER" "$IP:7946" itest "$WORK/cluster.key" \
			alpha noread "$FRAMES" witness >"$WORK/peer-$s-$i.out" 2>&1 &
		PIDS+=($!)
		peers+=($!)
	done
done
# Sample the agent's RSS while any stream runs (bounded: 75 s).
peak=$rss0
deadline=$((SECONDS + 75))
while ((SECONDS < deadline)); do
	r=$(rss_kib) && ((r > peak)) && peak=$r
	running=0
	for p in "${peers[@]}"; do kill -0 "$p" 2>/dev/null && running=$((running + 1)); done
	((running == 0)) && break
	sleep 0.5
done
for p in "${peers[@]}"; do
	kill -KILL "$p" 2>/dev/null # any left after the bound
	wait "$p" 2>/dev/null
done
secs=$((SECONDS - t0))

cut=0 full=0 failed=0 least=
for f in "$WORK"/peer-*.out; do
	n=$(sed -n 's/^sent \([0-9]*\) frames$/\1/p' "$f")
	if [[ -z $n ]]; then
		failed=$((failed + 1))
	elif ((n < FRAMES)); then
		cut=$((cut + 1))
		((n < ${least:-FRAMES})) && least=$n
	else
		full=$((full + 1))
	fi
done
grow_mb=$(((peak - rss0) / 1024))
echo "    $STREAMS streams in ${secs}s: $cut cut${least:+ (the first after $least frames)}," \
	"$full sent all $FRAMES, $failed did not say"
echo "    agent RSS ${rss0} KiB, peak ${peak} KiB (+${grow_mb} MiB)"
check "$STREAMS streams that never read their answers: a's RSS grows by less than $RSS_BOUND_MB MB (peak +$grow_mb MiB)" \
	test $((peak - rss0)) -lt $((RSS_BOUND_MB * 1024))
check "every stream connected and sent ($failed did not)" test "$failed" -eq 0
check "most streams were cut before $FRAMES frames ($cut of $STREAMS)" \
	test $((2 * cut)) -ge "$STREAMS"
# Each cut is a send error and a connection closed for its unread
# answers: nothing else cut them.
errs=$(counter "$IP" send_errors)
unread=$(counter "$IP" connections_unread)
echo "    send errors $errs0 -> $errs, connections closed unread: ${unread:-none counted}"
check "each cut is counted as a send error ($cut cut, $errs0 -> $errs)" \
	test $((errs - errs0)) -ge "$cut"
check "each cut is counted as a connection closed unread (${unread:-none} closed)" \
	test "${unread:-0}" -ge "$cut"
check "the agent answers its API" http "$IP" /v1/status >/dev/null
rss=$(rss_kib)
echo "    agent RSS after the streams: ${rss} KiB"
check "its RSS stays under the bound once the streams are gone (+$(((rss - rss0) / 1024)) MiB)" \
	test $((rss - rss0)) -lt $((RSS_BOUND_MB * 1024))

finish
