# pqc-iiot build. `make` builds the C library; `make test` runs every suite;
# `make demo` runs the showcase; `make bench` prints the benchmark tables.
# Every target installs or builds what it needs (see scripts/).

PREFIX    ?= /usr/local
BUILD     := build
LIBDIR    := $(BUILD)/lib
GO        ?= go
PYTHON    ?= python3
CMAKE     ?= cmake
JOBS      ?= 2
GOFLAGS_LIB := -trimpath

.PHONY: deps all lib shared static test test-go test-race test-cross test-c test-python test-node test-interop test-oscore-interop ct test-fuzz test-valgrind test-fuzz-capi test-bench-report fuzz fuzz-capi valgrind soak demo bench install clean

all: lib

lib: shared static

# Go's build cache makes these cheap when nothing changed, so they always run.
shared:
	@mkdir -p $(LIBDIR)
	$(GO) build $(GOFLAGS_LIB) -buildmode=c-shared -ldflags=-extldflags=-Wl,-soname,libpqc_iiot.so -o $(LIBDIR)/libpqc_iiot.so ./capi
	@rm -f $(LIBDIR)/libpqc_iiot.h   # cgo's generated header; include/pqc_iiot.h is the contract

static:
	@mkdir -p $(LIBDIR)
	$(GO) build $(GOFLAGS_LIB) -buildmode=c-archive -o $(LIBDIR)/libpqc_iiot.a ./capi
	@rm -f $(LIBDIR)/libpqc_iiot.h

test: deps
	$(MAKE) test-go test-race test-cross test-c test-interop test-python test-node test-oscore-interop ct test-fuzz test-fuzz-capi test-valgrind test-bench-report

deps:
	./scripts/deps.sh

test-go:
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	cd third_party/uberatomic && $(GO) vet ./... && $(GO) test -count=1 ./...

# The race detector slows the lattice code ~10x: the long accumulated vectors
# already ran above, so the race pass uses -short.
test-race:
	$(GO) test -count=1 -race -short ./core/...

# Core suites and the C API suite on linux/arm64 and linux/arm (ARMv7) under
# qemu, and Falcon against an independent implementation (@noble/post-quantum).
test-cross:
	./scripts/test-cross.sh

test-c: lib
	$(CMAKE) -S . -B $(BUILD)/cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo
	$(CMAKE) --build $(BUILD)/cmake -j $(JOBS)
	cd $(BUILD)/cmake && ctest --output-on-failure -j $(JOBS)

test-python: shared
	./scripts/test-python.sh

# Node.js binding and Node-RED nodes: npm ci from the lock file (bundles the
# library), then node:test.
test-node: shared
	./bindings/node/scripts/ci.sh

# C sensor, C++ SCADA and Python historian through a real Mosquitto, with
# the CLI's control plane (pqc-iiot control serve).
test-interop: lib
	$(CMAKE) -S . -B $(BUILD)/cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo
	$(CMAKE) --build $(BUILD)/cmake -j $(JOBS) --target example_mqtt_sensor_c example_scada_cpp
	PQC_IIOT_INTEROP_REQUIRED=1 PQC_IIOT_LIBRARY=$(CURDIR)/$(LIBDIR)/libpqc_iiot.so \
	PQC_IIOT_EXAMPLES=$(CURDIR)/$(BUILD)/cmake/examples $(GO) test -count=1 ./tests/interop/mqtt/

# OSCORE against aiocoap (an independent implementation), as real processes:
# our client with its server and its client with our server.
test-oscore-interop:
	./tests/interop/oscore/setup.sh
	PQC_REQUIRE_INTEROP=1 $(GO) test -count=1 -run Interop ./core/coap/oscore/

# Secret-dependent branches and memory addresses (valgrind, ctgrind style)
# in Falcon, SABER and the primitives around them; see docs/constant-time.md.
ct:
	./scripts/ct.sh

# Hardening passes. `make test` runs each briefly; these run them for real.
FUZZTIME ?= 30
SOAK     ?= 5m

fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

fuzz-capi:
	./tests/fuzz/run.sh $(FUZZTIME)

valgrind:
	./scripts/valgrind.sh

soak:
	./scripts/soak.sh $(SOAK)

test-fuzz:
	FUZZ_PARALLEL=$(JOBS) ./scripts/fuzz.sh 5

test-fuzz-capi:
	./tests/fuzz/run.sh 20

test-valgrind:
	./scripts/valgrind.sh

test-bench-report:
	$(PYTHON) -m unittest bench/test_bench_report.py

demo: deps lib
	./scripts/demo.sh

# One table of every figure (Go, C ABI, Python, Node.js, MQTT, CoAP, memory,
# library size) plus build/bench/results.json and results.png; BENCH_QUICK=1
# for a fast pass.
bench: lib
	./scripts/bench.sh

install: lib
	./scripts/install.sh "$(PREFIX)"

clean:
	rm -rf $(BUILD) bindings/python/build bindings/python/src/pqc_iiot/_lib bindings/node/lib/native bindings/node/node_modules
