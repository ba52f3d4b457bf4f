#!/usr/bin/env bash
# test_inbound_pool.sh — a seed whose inbound pool (--max-connections 4) is
# full of idle, authenticated streams still takes joins.
#
# A push-pull stream stays open for its idle time (30 s) on both ends, so
# a seed that had answered max_connections joins held that many idle
# streams, refused every further joiner until they closed, and the
# joiners backed off 1, 5, 10, 20 s: 1,000 real agents against the
# default 256 never converged (bench/cluster/thousand.sh).  Here 4 agents
# fill the pool and their streams go idle; then 12 more join at once.
# Checked: all 17 list 17 alive well within the idle time (15 s), and the
# seed evicted connections for the second wave (which, with its pool
# holding only authenticated streams, it could do only with idle ones).
# Agents on 127.0.73.1-17, keyed.
source "$(dirname "$0")/lib.sh"

FIRST=4
N=17
ip() { echo "127.0.73.$1"; }
(umask 077 && "$CLOISTER" keygen >"$WORK/key")
join() { # join I [ARGS...]
	local i=$1; shift
	start_agent "a$i" "$(ip "$i")" --name "a$i" --key-file "$WORK/key" "$@"
}
join 1 --sentry "$(ip 1):7946" --max-connections 4
seed_up() { [[ $(count_status "$(ip 1)" alive 2>/dev/null) == 1 ]]; }
check "the seed serves" wait_for 10 seed_up

for i in $(seq 2 $((FIRST + 1))); do join "$i" --sentry "$(ip 1):7946"; done
alive_on() { # alive_on COUNT FROM TO: agents FROM..TO each list COUNT alive
	local i
	for i in $(seq "$2" "$3"); do
		[[ $(count_status "$(ip "$i")" alive 2>/dev/null) == "$1" ]] || return 1
	done
}
check "the first $FIRST joined (the seed's pool is full)" wait_for 10 alive_on $((FIRST + 1)) 1 $((FIRST + 1))
# Their join streams go idle on the seed.
sleep 2
r0=$(counter "$(ip 1)" connections_refused)
e0=$(counter "$(ip 1)" connections_evicted)
echo "before the second wave: connections_refused ${r0:-?}, connections_evicted ${e0:-?}"

t0=$SECONDS
for i in $(seq $((FIRST + 2)) $N); do join "$i" --sentry "$(ip 1):7946"; done
took=""
for _ in $(seq 1 $((75 * SLOW))); do # bounded: 15 s at 0.2 s a poll
	if alive_on "$N" 1 "$N"; then took=$((SECONDS - t0)); break; fi
	sleep 0.2
done
r1=$(counter "$(ip 1)" connections_refused)
e1=$(counter "$(ip 1)" connections_evicted)
echo "second wave: all $N alive after ${took:-more than 15} s; connections_refused ${r0:-?} -> ${r1:-?}, connections_evicted ${e0:-?} -> ${e1:-?}"
check "every agent lists $N alive within 15 s of the second wave (${took:-not} s)" [ -n "$took" ]
check "the seed evicted streams for the second wave (connections_evicted ${e0:-?} -> ${e1:-?})" \
	[ "${e1:-0}" -gt "${e0:-0}" ]
if [[ -z $took ]]; then
	# How long it did take, for the record: the idle streams close at 30 s.
	late() { alive_on "$N" 1 "$N"; }
	wait_for 60 late && echo "(all $N alive after $((SECONDS - t0)) s)"
	echo "seed's connections_refused at the end: $(counter "$(ip 1)" connections_refused)"
fi
finish
