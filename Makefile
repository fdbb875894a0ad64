# Thin front for the two README commands; the real build is Meson + Ninja.
.PHONY: all deps build demo check bench clean

all: build

deps:
	@scripts/install-deps

build/build.ninja:
	meson setup build

build: deps build/build.ninja
	ninja -C build

demo: build
	./build/plugauth demo

check: build
	@scripts/check

bench: deps
	bench/run

clean:
	rm -rf build build-bench
