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
#   make clean

JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 20
CMAKE_GEN   := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
CTEST       := ctest --output-on-failure -j $(JOBS)

.PHONY: all deps build test demo asan fuzz fuzz-short bench clang clean

all: build

deps:
	@bash scripts/setup-deps.sh

build/CMakeCache.txt: | deps
	cmake -S . -B build $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: build/CMakeCache.txt
	cmake --build build -j $(JOBS)

test: build
	cd build && $(CTEST)

demo: build
	./build/cloister local -n 3 --script "kill 3 at 6, restart 3 at 14" --exit-after 24

build-asan/CMakeCache.txt: | deps
	cmake -S . -B build-asan $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug \
	      -DCMAKE_C_COMPILER=gcc -DCLOISTER_SANITIZE=ON

asan: build-asan/CMakeCache.txt
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(CTEST) -LE fuzz

build-fuzz/CMakeCache.txt: | deps
	cmake -S . -B build-fuzz $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	      -DCMAKE_C_COMPILER=clang -DCLOISTER_FUZZ=ON -DCLOISTER_SANITIZE=ON \
	      -DFUZZ_SECONDS=$(FUZZ_SECONDS)

fuzz-short: build-fuzz/CMakeCache.txt
	cmake -S . -B build-fuzz -DFUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	cmake --build build-fuzz -j $(JOBS)
	cd build-fuzz && ctest --output-on-failure -j $(JOBS) -L fuzz

fuzz:
	$(MAKE) fuzz-short FUZZ_SECONDS=600

build-clang/CMakeCache.txt: | deps
	cmake -S . -B build-clang $(CMAKE_GEN) -DCMAKE_C_COMPILER=clang

clang: build-clang/CMakeCache.txt
	cmake --build build-clang -j $(JOBS)
	cd build-clang && $(CTEST)

bench: build
	bash bench/run.sh

clean:
	rm -rf build build-asan build-fuzz build-clang
