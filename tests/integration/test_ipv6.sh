#!/usr/bin/env bash
# IPv6: two agents on [::1] (distinct ports, so their names carry the port)
# form a cluster with consensus 2.
source "$(dirname "$0")/lib.sh"
if ! python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
	echo "SKIP: no IPv6 loopback here"
	exit 77
fi
for i in 1 2; do
	"$CLOISTER" agent --app v6 --advertise "[::1]:795$i" --http "127.0.0.7$i:7947" \
		--sentry "[::1]:7951,[::1]:7952" --consensus 2 --profile local >>"$WORK/n$i.log" 2>&1 &
	PIDS+=($!)
done
ready() { [[ $(http 127.0.0.71 /ready) == ready* && $(http 127.0.0.72 /ready) == ready* ]]; }
check "two agents on [::1] become ready with consensus 2" wait_for 20 ready
names() { http 127.0.0.71 /v1/members | python3 -c '
import json, sys
ms = {m["name"]: m["addr"] for m in json.load(sys.stdin)}
assert ms == {"v6@[::1]:7951": "[::1]:7951", "v6@[::1]:7952": "[::1]:7952"}, ms'; }
check "members listed with IPv6 addresses" names
finish
