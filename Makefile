# Front door: `make`, `make test`, `make demo` work from a fresh clone.
# The real build is CMake; this file only picks build folders and options.
#
#   make            build (build/)
#   make test       the test suite: unit, simulation, CLI, corpus replay
#   make demo       the main job: a local cluster demonstration
#   make asan       the test suite under AddressSanitizer + UBSan (gcc)
#   make fuzz-short every fuzz target for FUZZ_SECONDS (clang + libFuzzer)
#   make fuzz       the same, for FUZZ_SECONDS=600
#   make bench      the benchmarks of bench/README.md
#   make clang      build and test with clang instead of gcc
#   make tsan       the threaded tests (API, discovery, keyring, integration)
#                   under ThreadSanitizer (clang)
#   make valgrind   one integration test's agents under valgrind memcheck
#   make chaos      fault injection in network namespaces (root), with a
#                   test build (build-fault/), then a 30 s-a-phase flood
#   make soak       20 agents under churn for SOAK_MINUTES, RSS/fd trends
#   make prop       the property simulator's long batch: PROP_SEEDS random
#                   fault schedules (default 10,000; make test runs 300)
#   make static     a static release binary on musl, build-static/cloister
#                   (what the benchmarks measure; one file to deploy)
#   make static-test  the integration tests of every client command (--http
#                   and --ctl), hooks, keys, flood and systemd against it
#   make install    install (PREFIX=/usr/local, DESTDIR): binary, library,
#                   header, cloister.pc, CMake package, man page,
#                   completion, systemd unit
#   make deb        a Debian package, build-deb/cloister_VERSION-1_ARCH.deb
#   make clean
#
# Each target installs the Debian packages it needs and no more
# (scripts/setup-deps.sh --core, --static, --test, --clang, ...).

JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
# `make test` runs twice as many tests as cores: the shell tests spend most
# of their time waiting on agents' timers (on 2 cores, -j4 takes the suite
# from 387 s to 229 s).  Tests that must not overlap say so with resource
# locks (tests/CMakeLists.txt).
TEST_JOBS   ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 2) * 2 )))
FUZZ_SECONDS ?= 20
CMAKE_GEN   := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
CTEST       := ctest --output-on-failure -j $(JOBS)

.PHONY: all deps deps-core deps-static deps-test deps-clang deps-valgrind deps-bench \
	build static static-test test demo asan fuzz fuzz-short bench clang tsan valgrind \
	chaos soak prop install deb clean

all: build

# What CI runs (.ci/run): everything but the benchmarks' tools.
deps:
	@bash scripts/setup-deps.sh
deps-core deps-static deps-test deps-clang deps-valgrind deps-bench:
	@bash scripts/setup-deps.sh --$(@:deps-%=%)

build/CMakeCache.txt: | deps-core
	cmake -S . -B build $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps-core build/CMakeCache.txt
	cmake --build build -j $(JOBS)

# PREFIX is where the files will live; DESTDIR, if given, is where they are
# written (a staging root).  The build is configured for PREFIX so the
# paths it records (GNUInstallDirs, the zsh completion's folder) match.
PREFIX ?= /usr/local
install: build
	cmake -S . -B build -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	cmake --build build -j $(JOBS)
	cmake --install build

# A release build for prefix /usr, packaged by packaging/deb/build.sh.
build-deb/CMakeCache.txt: | deps-core
	cmake -S . -B build-deb $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release \
	      -DCMAKE_INSTALL_PREFIX=/usr -DCLOISTER_TESTS=OFF

deb: deps-core build-deb/CMakeCache.txt
	cmake --build build-deb -j $(JOBS)
	bash packaging/deb/build.sh build-deb build-deb

# musl (musl-tools) for the C library, Debian's archives for the rest:
# musl's libc is ~80 KB of code where static glibc brings ~900 KB, and an
# idle agent's RSS is mostly the code it maps.  The dependency headers
# come from /usr/include after musl's own (-idirafter).
build-static/CMakeCache.txt: | deps-static
	CC=musl-gcc cmake -S . -B build-static $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release \
	      -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
	      -DCMAKE_C_FLAGS="-idirafter /usr/include -idirafter /usr/include/x86_64-linux-gnu" \
	      -DCLOISTER_STATIC_BINARY=ON -DCLOISTER_TESTS=OFF

static: deps-static build-static/CMakeCache.txt
	cmake --build build-static -j $(JOBS) --target cloister

# The musl binary (what the benchmarks measure and images carry) against
# real agents, through every surface a client or a peer reaches: a cluster
# with a kill and a restart; every client command over --http and over
# --ctl; hooks; keys and sealed traffic; the control API's defences; a
# flood; systemd's notifications; contrib/'s Dockerfile, compose and
# Kubernetes examples under podman.  The test tools come from build/.  A
# skipped test (77) fails here.  tests/static_test.sh runs them in three
# lanes side by side, then the flood alone.  About 2 minutes.
static-test: deps-test static build
	cmake --build build -j $(JOBS) --target cloister_flood cloister_pushmembers
	bash tests/static_test.sh build-static/cloister build

# The tests' packages, then a configure step: the build finds what they
# brought (erl_interface for --stdio etf).
test: deps-test build
	cmake -S . -B build >/dev/null
	cmake --build build -j $(JOBS)
	cd build && ctest --output-on-failure -j $(TEST_JOBS)

demo: build
	./build/cloister demo

# The flood test asserts that a node answers within its probe timeout
# while one core floods it at full rate: a claim about the release build's
# speed, which a sanitized agent (2-15x slower) cannot meet by design.  Its
# decoders are fuzzed under ASan instead.
NOT_UNDER_SANITIZERS := integration\.test_flood
# The sanitized builds run every unit, simulation and CLI test, and those
# integration tests whose agents exercise the code a sanitizer watches:
# ASan the decoders and lifecycles that outside input and churn reach (the
# attack tests, a kill and restart, configuration, day-two commands, a join
# storm, calls kept past their handler); TSan the threads (control API,
# hooks, the Unix socket, the Erlang port, cloister run, calls answered
# from the API's thread).  The whole integration suite runs once, in `make
# test`: three serial passes of it would take CI past 40 minutes.  The
# sanitized shares run JOBS at a time, not TEST_JOBS: at 4, an ASan agent
# took over 5 s on one 1 MiB push-pull frame of test_rogue_member's forged
# state, so the next frame opened a new exchange budget (6,011 members
# added against the 4,096 the test checks; PUSHPULL_EXCHANGE_IDLE).
ASAN_INTEGRATION := test_(loopback_cluster|agent_cli|api_security|transport_security|hooks_security|files_security|rogue_member|stream_reply|config|dayops|join_storm|slow_answerer)$$
TSAN_INTEGRATION := test_(loopback_cluster|agent_cli|api_security|hooks_security|client_transports|run|config|keys_and_flood|slow_answerer)$$

build-asan/CMakeCache.txt: | deps-test
	cmake -S . -B build-asan $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug \
	      -DCMAKE_C_COMPILER=gcc -DCLOISTER_SANITIZE=ON

asan: deps-test build-asan/CMakeCache.txt
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 sh -c '\
	    $(CTEST) -LE "fuzz|netns|bindings|browser|integration" && \
	    $(CTEST) -L integration -R "$(ASAN_INTEGRATION)"'

build-fuzz/CMakeCache.txt: | deps-clang
	cmake -S . -B build-fuzz $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	      -DCMAKE_C_COMPILER=clang -DCLOISTER_FUZZ=ON -DCLOISTER_SANITIZE=ON \
	      -DFUZZ_SECONDS=$(FUZZ_SECONDS)

# Only the libFuzzer targets: the rest of the tree (tests, tools) is built
# and run under the sanitizers by `make asan`; building it here again took
# a minute of CI.
FUZZ_TARGETS := $(basename $(notdir $(wildcard fuzz/fuzz_*.c)))
fuzz-short: deps-test deps-clang build-fuzz/CMakeCache.txt
	cmake -S . -B build-fuzz -DFUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	cmake --build build-fuzz -j $(JOBS) --target $(FUZZ_TARGETS)
	cd build-fuzz && ctest --output-on-failure -j $(JOBS) -L fuzz

fuzz:
	$(MAKE) fuzz-short FUZZ_SECONDS=600

build-clang/CMakeCache.txt: | deps-clang
	cmake -S . -B build-clang $(CMAKE_GEN) -DCMAKE_C_COMPILER=clang

# The clang build's agents are exercised by `make tsan`; here its unit,
# simulation and CLI tests, which compiler differences would break.
clang: deps-test deps-clang build-clang/CMakeCache.txt
	cmake --build build-clang -j $(JOBS)
	cd build-clang && $(CTEST) -L 'unit|sim|cli|replay'

# ThreadSanitizer: the unit tests that start threads, then the integration
# tests (real agents, the tsan-built binary); lib.sh fails a test on any
# ThreadSanitizer report in an agent's log.  tests/tsan.supp says why each
# suppression is there.
TSAN_OPTIONS_ALL := halt_on_error=0 exitcode=66 second_deadlock_stack=1 \
                    suppressions=$(CURDIR)/tests/tsan.supp
build-tsan/CMakeCache.txt: | deps-clang
	cmake -S . -B build-tsan $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	      -DCMAKE_C_COMPILER=clang -DCLOISTER_TSAN=ON

# What the ThreadSanitizer run needs: the agent, the threaded unit tests
# and the tools its integration tests take (hooks_security's pushmembers).
# One list gives both what is built and what ctest runs.
empty        :=
space        := $(empty) $(empty)
TSAN_UNIT    := $(basename $(notdir $(foreach t,api discovery keyring messaging,\
                  $(wildcard tests/unit/test_$(t)*.c))))
TSAN_TARGETS := cloister $(TSAN_UNIT) cloister_pushmembers cloister_flood
tsan: deps-test deps-clang build-tsan/CMakeCache.txt
	cmake --build build-tsan -j $(JOBS) --target $(TSAN_TARGETS)
	cd build-tsan && export TSAN_OPTIONS="$(TSAN_OPTIONS_ALL)"; rc=0; \
	  setarch $$(uname -m) -R $(CTEST) -R '^unit\.($(subst $(space),|,$(TSAN_UNIT)))$$' || rc=1; \
	  setarch $$(uname -m) -R $(CTEST) -L integration -LE browser -R '$(TSAN_INTEGRATION)' || rc=1; \
	  exit $$rc

# Valgrind memcheck: every agent of one integration test runs under
# valgrind (CLOISTER_WRAP); timeouts scale with CLOISTER_SLOW.
VALGRIND_TEST ?= tests/integration/test_loopback_cluster.sh
valgrind: deps-test deps-valgrind build
	CLOISTER_SLOW=$${CLOISTER_SLOW:-4} \
	CLOISTER_WRAP="valgrind --error-exitcode=99 --leak-check=full --track-fds=no" \
	  bash $(VALGRIND_TEST) build/cloister

# Chaos runs a test build (build-fault/: -DCLOISTER_FAULT_INJECTION=ON, the
# outbound-delay hook of src/runtime/fault.h, for the latency scenario),
# then the 30 s-a-phase flood of tests/integration/test_flood.sh.
build-fault/CMakeCache.txt: | deps-core
	cmake -S . -B build-fault $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	      -DCLOISTER_FAULT_INJECTION=ON

FLOOD_SECONDS ?= 30
chaos: deps-test build build-fault/CMakeCache.txt
	cmake --build build-fault -j $(JOBS) --target cloister
	cmake --build build -j $(JOBS) --target cloister_flood
	rc=0; bash tests/chaos/chaos.sh build-fault/cloister || rc=1; \
	  CLOISTER_FLOOD=build/tests/cloister_flood FLOOD_SECONDS=$(FLOOD_SECONDS) \
	    bash tests/integration/test_flood.sh build/cloister || rc=1; \
	  exit $$rc

SOAK_MINUTES ?= 30
soak: deps-test build
	SOAK_MINUTES=$(SOAK_MINUTES) bash tests/soak/soak.sh build/cloister

PROP_SEEDS ?= 10000
prop: build
	./build/tests/test_sim_properties 1 $(PROP_SEEDS)

bench: deps-test deps-bench build
	bash bench/run.sh

clean:
	rm -rf build build-static build-asan build-fuzz build-clang build-tsan build-fault build-deb
