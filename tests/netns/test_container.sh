#!/usr/bin/env bash
# contrib/Dockerfile, contrib/compose.yaml and contrib/kubernetes/ run
# under podman (runc, cgroupfs; no registry: images built FROM scratch).
#
# 1. The Dockerfile's image (plus a test layer: busybox for a service that
#    exits 42 on SIGTERM), three containers on a network 198.18.50.0/24
#    whose alias "shop" answers with each of them (--sentry dns:shop):
#    they assemble; readiness on the probe listener (:7948/ready);
#    `podman stop` (SIGTERM to PID 1, the agent): the peers see the node
#    *left* within 2 s (agent logs' timestamps), and the container's exit
#    code is the service's (42).
# 2. contrib/compose.yaml under podman-compose (subnet 198.18.51.0/24):
#    three replicas of the service find each other by its name, turn
#    ready; one stopped is seen left within 2 s, its exit code its
#    service's.
# 3. contrib/kubernetes/cloister.yaml: no Kubernetes here, and `podman
#    kube play` has no Services (no name answering with every pod): the
#    Deployment's container spec (image args, env, secret volume with its
#    mode) runs as its replicas under podman with the headless Service's
#    name as network alias (198.18.52.0/24), the readinessProbe polled as
#    the kubelet would; then a pod deleted: left, exit code.
#
# The images for compose and Kubernetes are the Dockerfile's plus the test
# layer (the libraries of a dynamically linked binary under test; `make
# static-test` runs this with the static one, whose image needs nothing).
# Every network is --internal: no route or NAT out of 198.18.5x.0/24.
# Skipped (77) only where podman cannot run a container at all (not root,
# podman not installed, or the runtime refuses), with the reason.
source "$(dirname "$0")/../integration/lib.sh"
SRC=${CLOISTER_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
[[ $(id -u) == 0 ]] || { echo "SKIP: podman's networks need root here"; exit 77; }
command -v podman >/dev/null || { echo "SKIP: podman not installed (scripts/setup-deps.sh installs it)"; exit 77; }
P=(podman --cgroup-manager=cgroupfs --runtime runc)
TAG=cloister-test-$$
IMG=localhost/$TAG:image IMG_SVC=localhost/$TAG:svc
CONTAINERS=() NETWORKS=()
podman_cleanup() {
	local c
	for c in "${CONTAINERS[@]}"; do "${P[@]}" rm -f -t 0 "$c" >/dev/null 2>&1; done
	[[ -n ${COMPOSE_UP:-} ]] && (cd "$WORK/compose" && timeout 60 podman-compose -p "$TAG" down -t 0 >/dev/null 2>&1)
	for c in "${NETWORKS[@]}"; do "${P[@]}" network rm -f "$c" >/dev/null 2>&1; done
	"${P[@]}" rmi -f "$IMG_SVC" "$IMG" >/dev/null 2>&1
}
trap 'podman_cleanup; cleanup' EXIT

# ---------------------------------------------------------------- images
# The Dockerfile's context is the source tree after `make static`; here,
# the binary under test in its place.  A dynamically linked binary gets
# its libraries in the test layer (the image itself is FROM scratch).
mkdir -p "$WORK/ctx/build-static" "$WORK/svc/libs"
cp "$CLOISTER" "$WORK/ctx/build-static/cloister"
if ldd "$CLOISTER" >/dev/null 2>&1; then # "not a dynamic executable": static
	for lib in $(ldd "$CLOISTER" | grep -o '/[^ ]*'); do
		mkdir -p "$WORK/svc/libs$(dirname "$lib")"
		cp -L "$lib" "$WORK/svc/libs$lib"
	done
fi
BUSYBOX=$(command -v busybox || echo /bin/busybox)
[[ -x $BUSYBOX ]] || { echo "FAIL: busybox-static is missing (scripts/setup-deps.sh)"; exit 1; }
cp "$BUSYBOX" "$WORK/svc/busybox"
cat >"$WORK/svc/service.sh" <<'SH'
# The service: exits 42 on SIGTERM, so its status is recognisable.
trap 'echo "service: SIGTERM"; exit 42' TERM
echo "service: up"
while :; do /bin/busybox sleep 0.2; done
SH
cat >"$WORK/svc/Containerfile" <<EOF2
FROM $IMG
COPY libs/ /
COPY busybox /bin/busybox
COPY service.sh /service.sh
EOF2
if ! out=$("${P[@]}" build -q -f "$SRC/contrib/Dockerfile" -t "$IMG" "$WORK/ctx" 2>&1); then
	if grep -qi "permission denied\|operation not permitted\|cgroup\|OCI runtime" <<<"$out"; then
		echo "SKIP: podman cannot build here: $out"; exit 77
	fi
	echo "FAIL: contrib/Dockerfile did not build: $out"; exit 1
fi
pass "contrib/Dockerfile builds ($(("$("${P[@]}" image inspect "$IMG" --format '{{.Size}}')" / 1024)) KiB)"
"${P[@]}" build -q -f "$WORK/svc/Containerfile" -t "$IMG_SVC" "$WORK/svc" >"$WORK/svc.build" 2>&1 ||
	{ fail "test layer: $(cat "$WORK/svc.build")"; finish; exit 1; }
if ! out=$("${P[@]}" run --rm "$IMG_SVC" --help 2>&1); then
	if ! "${P[@]}" run --rm --entrypoint /bin/busybox "$IMG_SVC" true >/dev/null 2>&1; then
		echo "SKIP: podman cannot run a container here: $out"; exit 77
	fi
	fail "the image's entry point does not run: $out"
fi
check "the image's entry point is cloister run" grep -q "usage: cloister run" <<<"$out"

"$CLOISTER" keygen >"$WORK/key"
chmod 600 "$WORK/key"
# members_of CONTAINER: name status lines, as that agent sees them.
members_of() {
	"${P[@]}" exec "$1" cloister members --json 2>/dev/null | python3 -c '
import json, sys
for m in json.load(sys.stdin): print(m["addr"].split(":")[0], m["status"])'
}
count_in() { [[ $(members_of "$1" | grep -c " $2\$") == "$3" ]]; }
status_in() { members_of "$1" | grep "^$2 $3\$" >/dev/null; } # not -q: quitting early broke the printer's pipe (a traceback in the log)
ready_at() { curl -fsS -o /dev/null -m 2 "http://$1:7948/ready"; }
ip_of() { "${P[@]}" inspect "$1" --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}'; }
# left_delay STOPPED_LOG PEER_LOG IP: seconds from the stopped agent's
# "leaving the cluster" to the peer's "member left" for IP ("" if none).
left_delay() {
	python3 - "$1" "$2" "$3" <<'PY'
import re, sys, datetime
def ts(line):
    m = re.search(r'ts=(\S+)Z', line)
    return datetime.datetime.fromisoformat(m.group(1)) if m else None
stop = [ts(l) for l in open(sys.argv[1]) if 'msg="leaving the cluster"' in l]
left = [ts(l) for l in open(sys.argv[2]) if 'msg="member left"' in l and sys.argv[3] + ':' in l]
if stop and left:
    print(round((left[0] - stop[0]).total_seconds(), 3))
PY
}
# left_since EPOCH PEER_LOG IP: seconds from EPOCH (when `podman stop`
# was run) to the peer's "member left" for IP.
left_since() {
	python3 - "$1" "$2" "$3" <<'PY'
import re, sys, datetime
t0 = float(sys.argv[1])
for l in open(sys.argv[2]):
    if 'msg="member left"' in l and sys.argv[3] + ':' in l:
        ts = datetime.datetime.fromisoformat(re.search(r'ts=(\S+)Z', l).group(1))
        print(round(ts.replace(tzinfo=datetime.timezone.utc).timestamp() - t0, 3))
        break
PY
}

# ---------------------------------------------------------------- 1. podman run
NET1=$TAG-run
"${P[@]}" network rm -f "$NET1" >/dev/null 2>&1
"${P[@]}" network create --internal --subnet 198.18.50.0/24 "$NET1" >/dev/null && NETWORKS+=("$NET1")
for i in 1 2 3; do
	c=$TAG-run$i
	CONTAINERS+=("$c")
	"${P[@]}" run -d --name "$c" --network "$NET1" --network-alias shop \
		-v "$WORK/key:/etc/cloister/key:ro" -e CLOISTER_KEY_FILE=/etc/cloister/key \
		"$IMG_SVC" --app shop --sentry dns:shop --consensus 3 --profile local \
		--probe 0.0.0.0:7948 -- /bin/busybox sh /service.sh >/dev/null ||
		fail "podman run $c"
done
IP3=$(ip_of "$TAG-run3")
check "three containers found each other through the alias (3 alive at run1)" wait_for 30 count_in "$TAG-run1" alive 3
check "readiness on the probe listener: GET $(ip_of "$TAG-run1"):7948/ready is 200" wait_for 10 ready_at "$(ip_of "$TAG-run1")"
t0=$(date +%s.%N)
"${P[@]}" stop -t 10 "$TAG-run3" >/dev/null
t1=$(date +%s.%N)
check "podman stop returned after $(python3 -c "print(round($t1 - $t0, 2))") s (no SIGKILL: under the 10 s timeout)" \
	python3 -c "import sys; sys.exit(0 if $t1 - $t0 < 9 else 1)"
"${P[@]}" logs "$TAG-run3" >"$WORK/run3.log" 2>&1
"${P[@]}" logs "$TAG-run1" >"$WORK/run1.log" 2>&1
"${P[@]}" logs "$TAG-run2" >"$WORK/run2.log" 2>&1
check "run1 and run2 see run3 left" wait_for 5 status_in "$TAG-run1" "$IP3" left
check "... (run2 too)" status_in "$TAG-run2" "$IP3" left
"${P[@]}" logs "$TAG-run1" >"$WORK/run1.log" 2>&1
"${P[@]}" logs "$TAG-run2" >"$WORK/run2.log" 2>&1
d1=$(left_delay "$WORK/run3.log" "$WORK/run1.log" "$IP3")
d2=$(left_delay "$WORK/run3.log" "$WORK/run2.log" "$IP3")
s1=$(left_since "$t0" "$WORK/run1.log" "$IP3")
check "peers saw the stopped container leave within 2 s (after its SIGTERM: run1 ${d1:-never} s, run2 ${d2:-never} s; after \`podman stop\` began: ${s1:-never} s)" \
	python3 -c "import sys; sys.exit(0 if '$d1' and '$d2' and '$s1' and $d1 <= 2 and $d2 <= 2 and $s1 <= 2 else 1)"
check "... as left, never failed" bash -c "! grep -q 'member failed' '$WORK/run1.log' '$WORK/run2.log'"
code=$("${P[@]}" inspect "$TAG-run3" --format '{{.State.ExitCode}}')
check "the container's exit code is the service's (42: $code)" test "$code" = 42
check "... the service got SIGTERM" grep -q "service: SIGTERM" "$WORK/run3.log"
for i in 1 2; do "${P[@]}" rm -f -t 0 "$TAG-run$i" >/dev/null; done
"${P[@]}" network rm -f "$NET1" >/dev/null

# ---------------------------------------------------------------- 2. compose
# podman-compose 1.0.3 makes the project's default network without a
# subnet (10.89.x): made here first, on 198.18.51.0/24, it is used as is.
if command -v podman-compose >/dev/null; then
	mkdir -p "$WORK/compose"
	cp "$SRC/contrib/compose.yaml" "$WORK/compose/compose.yaml"
	cp "$WORK/key" "$WORK/compose/cloister.key"
	"${P[@]}" network rm -f "${TAG}_default" >/dev/null 2>&1
	"${P[@]}" network create --internal --subnet 198.18.51.0/24 "${TAG}_default" >/dev/null && NETWORKS+=("${TAG}_default")
	COMPOSE_UP=1
	(cd "$WORK/compose" && CLOISTER_IMAGE=$IMG_SVC timeout 120 podman-compose -p "$TAG" up -d) >"$WORK/compose.up" 2>&1 ||
		fail "podman-compose up: $(tail -5 "$WORK/compose.up")"
	c1=${TAG}_shop_1 c3=${TAG}_shop_3
	CONTAINERS+=("$c1" "${TAG}_shop_2" "$c3")
	check "compose: three replicas assemble through the service's name (3 alive at $c1)" wait_for 30 count_in "$c1" alive 3
	check "compose: ready on the probe listener" wait_for 10 ready_at "$(ip_of "$c1")"
	ip3=$(ip_of "$c3")
	"${P[@]}" stop -t 12 "$c3" >/dev/null
	check "compose: a stopped replica is seen left" wait_for 5 status_in "$c1" "$ip3" left
	"${P[@]}" logs "$c3" >"$WORK/c3.log" 2>&1
	"${P[@]}" logs "$c1" >"$WORK/c1.log" 2>&1
	d=$(left_delay "$WORK/c3.log" "$WORK/c1.log" "$ip3")
	check "compose: within 2 s (${d:-never} s)" python3 -c "import sys; sys.exit(0 if '$d' and $d <= 2 else 1)"
	code=$("${P[@]}" inspect "$c3" --format '{{.State.ExitCode}}')
	svc=$(sed -n 's/.*msg="service exited" status=\([0-9]*\).*/\1/p' "$WORK/c3.log" | head -1)
	check "compose: the container exited with the service's status ($code, service ${svc:-none})" \
		test -n "$svc" -a "$code" = "$svc"
	(cd "$WORK/compose" && timeout 60 podman-compose -p "$TAG" down -t 0) >/dev/null 2>&1
	COMPOSE_UP=
else
	fail "podman-compose is not installed (scripts/setup-deps.sh installs it)"
fi

# ---------------------------------------------------------------- 3. kubernetes
python3 - "$SRC/contrib/kubernetes/cloister.yaml" >"$WORK/k8s.spec" <<'PY' || fail "contrib/kubernetes/cloister.yaml: $(cat "$WORK/k8s.spec")"
import sys, yaml, shlex
docs = list(yaml.safe_load_all(open(sys.argv[1])))
svc = next(d for d in docs if d["kind"] == "Service")
dep = next(d for d in docs if d["kind"] == "Deployment")
assert svc["spec"]["clusterIP"] == "None", "the Service must be headless"
assert svc["spec"].get("publishNotReadyAddresses") is True, "pods must find each other before ready"
tmpl = dep["spec"]["template"]
assert all(tmpl["metadata"]["labels"].get(k) == v for k, v in svc["spec"]["selector"].items()), "selector"
c = tmpl["spec"]["containers"][0]
args = c["args"]
assert "--" in args, "the service after --"
sentry = args[args.index("--sentry") + 1]
assert sentry == "dns:" + svc["metadata"]["name"], sentry
probe = c["readinessProbe"]["httpGet"]
assert args[args.index("--probe") + 1].endswith(":%d" % probe["port"]), "readiness on the probe listener"
vol = next(v for v in tmpl["spec"]["volumes"])
mount = next(m for m in c["volumeMounts"] if m["name"] == vol["name"])
print("ALIAS=%s" % shlex.quote(svc["metadata"]["name"]))
print("REPLICAS=%d" % dep["spec"]["replicas"])
print("ARGS=(%s)" % " ".join(shlex.quote(a) for a in args))
print("ENVS=(%s)" % " ".join(shlex.quote("%s=%s" % (e["name"], e["value"])) for e in c.get("env", [])))
print("MOUNT=%s MODE=%o" % (shlex.quote(mount["mountPath"]), vol["secret"].get("defaultMode", 0o644)))
print("READY_PATH=%s READY_PORT=%d" % (shlex.quote(probe["path"]), probe["port"]))
print("GRACE=%d" % tmpl["spec"]["terminationGracePeriodSeconds"])
PY
source "$WORK/k8s.spec"
if [[ -n ${ALIAS:-} ]]; then
	pass "the manifest: a headless Service, its name as the sentry, readiness on --probe, a secret volume"
	NET3=$TAG-k8s
	"${P[@]}" network rm -f "$NET3" >/dev/null 2>&1
	"${P[@]}" network create --internal --subnet 198.18.52.0/24 "$NET3" >/dev/null && NETWORKS+=("$NET3")
	# The secret volume as the kubelet writes it: the key, defaultMode.
	mkdir -p "$WORK/k8s-secret"
	cp "$WORK/key" "$WORK/k8s-secret/key"
	chmod "$MODE" "$WORK/k8s-secret/key"
	envs=()
	for e in "${ENVS[@]}"; do envs+=(-e "$e"); done
	for ((i = 1; i <= REPLICAS; i++)); do
		c=$TAG-pod$i
		CONTAINERS+=("$c")
		"${P[@]}" run -d --name "$c" --network "$NET3" --network-alias "$ALIAS" \
			-v "$WORK/k8s-secret:$MOUNT:ro" "${envs[@]}" "$IMG_SVC" --profile local "${ARGS[@]}" >/dev/null ||
			fail "podman run $c"
	done
	pods_ready() {
		local i
		for ((i = 1; i <= REPLICAS; i++)); do
			curl -fsS -o /dev/null -m 2 "http://$(ip_of "$TAG-pod$i"):$READY_PORT$READY_PATH" || return 1
		done
	}
	check "kubernetes: $REPLICAS pods pass their readinessProbe (GET :$READY_PORT$READY_PATH)" wait_for 40 pods_ready
	check "kubernetes: $REPLICAS alive at pod1" count_in "$TAG-pod1" alive "$REPLICAS"
	ip=$(ip_of "$TAG-pod$REPLICAS")
	"${P[@]}" stop -t "$GRACE" "$TAG-pod$REPLICAS" >/dev/null
	check "kubernetes: a deleted pod is seen left" wait_for 5 status_in "$TAG-pod1" "$ip" left
	"${P[@]}" logs "$TAG-pod$REPLICAS" >"$WORK/podN.log" 2>&1
	"${P[@]}" logs "$TAG-pod1" >"$WORK/pod1.log" 2>&1
	d=$(left_delay "$WORK/podN.log" "$WORK/pod1.log" "$ip")
	check "kubernetes: within 2 s (${d:-never} s)" python3 -c "import sys; sys.exit(0 if '$d' and $d <= 2 else 1)"
fi
finish
