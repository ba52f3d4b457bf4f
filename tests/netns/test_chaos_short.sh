#!/usr/bin/env bash
# The short form of tests/chaos/chaos.sh (make chaos): 5 agents in network
# namespaces (198.19.0.0/24) survive a kill -9 and restart, a 2|3 partition
# and its heal, and a 10 s SIGSTOP, converging with no ghost, no false
# "failed" event and no status-machine or consensus violation.  Needs root
# and ip netns; exits 77 (CTest: skipped) where it cannot run.
CHAOS_SCENARIOS=${CHAOS_SCENARIOS:-"kill partition freeze"} CONVERGE_S=${CONVERGE_S:-40} \
	exec bash "$(dirname "$0")/../chaos/chaos.sh" "$@"
