# Thin front for the two README commands; the real build is Meson + Ninja.
.PHONY: all deps deps-all build build-tests demo check unit e2e format fuzz \
	bench soak clean

# `make fuzz`: seconds per harness; FUZZ_ONLY=form runs one harness.
FUZZ_SECONDS ?= 60
FUZZ_ONLY ?=

all: build

# What building and running need (`make build`, `make demo`).
deps:
	@scripts/install-deps build

# Everything: the build set and the test, fuzz and benchmark tools
# (scripts/install-deps says why each package is there).
deps-all:
	@scripts/install-deps

build/build.ninja:
	meson setup build

build: deps build/build.ninja
	ninja -C build

# build/ with the unit tests. Meson looks for cmocka only when it configures,
# so a build/ set up by `make demo` before cmocka was installed is configured
# again once.
build-tests: deps-all build/build.ninja
	@grep -q 'tests/unit/test_' build/build.ninja || \
	    meson setup --reconfigure build
	ninja -C build

demo: build
	./build/plugauth demo

# Also builds build-asan (ASan + UBSan) and build-fuzz (libFuzzer) and runs
# the suites there: see scripts/check.
check: build-tests
	@scripts/check

# Quick loops (docs/HACKING.md): the cmocka suites, or the e2e suite, of
# ./build only. `make unit UNIT=store` runs one suite; `make e2e E2E=gateway`
# runs tests/e2e/gateway.test.js.
UNIT ?=
E2E ?=

unit: build-tests
	@set -e; for t in build/tests/unit/test_$(or $(UNIT),*); do \
		echo "== $$t"; "$$t"; \
	done

e2e: deps-all build
	cd tests/e2e && PLUGAUTH_BIN="$(CURDIR)/build/plugauth" \
	    node --test --test-concurrency=1 \
	    $(if $(E2E),$(E2E).test.js,./*.test.js)

# Rewrites every C file to the committed .clang-format (make check fails on
# a file that differs).
format:
	clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/unit/*.c' \
	    'tests/fuzz/*.c' 'tests/fuzz/*.h')

# libFuzzer harnesses (clang): docs/fuzzing.md. New inputs collect in
# build-fuzz/corpus/<harness>, crashes in build-fuzz/artifacts/.
build-fuzz/build.ninja:
	CC=clang meson setup build-fuzz -Dfuzz=enabled -Dtests=disabled \
	    -Dwerror=false

fuzz: deps-all build-fuzz/build.ninja
	ninja -C build-fuzz fuzz
	@set -e; for c in tests/fuzz/corpus/*/; do \
		h=fuzz_$$(basename "$$c"); \
		[ -z "$(FUZZ_ONLY)" ] || [ "$$h" = "fuzz_$(FUZZ_ONLY)" ] || continue; \
		echo "== $$h ($(FUZZ_SECONDS) s)"; \
		mkdir -p "build-fuzz/corpus/$$h" build-fuzz/artifacts; \
		"build-fuzz/tests/fuzz/$$h" -max_total_time=$(FUZZ_SECONDS) \
		    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		    -artifact_prefix="build-fuzz/artifacts/$$h-" \
		    "build-fuzz/corpus/$$h" "$$c"; \
	done

bench: deps-all
	bench/run

# 60 s of mixed token, refresh, gateway and introspection load: throughput
# every 5 s and the server's RSS (bench/README.md).
soak: deps-all
	bench/soak

clean:
	rm -rf build build-bench build-asan build-fuzz
