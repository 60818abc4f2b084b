# golive — see README.md. `make demo` and `make test` do all the set-up on a
# fresh Debian 12 / Raspberry Pi OS Bookworm machine (as root or via sudo).

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Build: FFmpeg 5.1 development files (go-astiav v0.16.0 binds them), cgo.
BUILD_PKGS := gcc pkg-config libavcodec-dev libavformat-dev libavfilter-dev libavdevice-dev \
              libswscale-dev libswresample-dev libavutil-dev linux-libc-dev libasound2-dev libpulse-dev \
              libegl-dev libgles-dev libgl-dev libegl1-mesa-dev libgl1-mesa-dri libgbm-dev
# Tests, demo and benchmarks: the real peers (DESIGN.md).
TEST_PKGS  := ffmpeg nginx libnginx-mod-rtmp libnginx-mod-stream openssl iproute2 procps \
              pulseaudio pulseaudio-utils

.PHONY: all deps build test bench demo vet fmt clean

all: build

# Idempotent and quiet: apt-get runs (update first) only when a package is missing.
deps:
	@missing=$$(for p in $(BUILD_PKGS) $(TEST_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing $$missing"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	fi
	@command -v $(GO) >/dev/null || { echo "deps: Go 1.21 or newer is needed (go.mod asks for 1.26; newer toolchains download it): https://go.dev/dl/"; exit 1; }

build: deps
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/golive ./cmd/golive

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }

# Every test, integration tests against real nginx-rtmp included.
test: deps vet
	$(GO) test -race -count=1 -timeout 12m ./...

# Benchmarks: Go micro-benchmarks, then golive vs the ffmpeg command line in
# the same run; writes docs/BENCHMARKS.md.
bench: build
	$(GO) run ./internal/benchrun -golive bin/golive -out docs/BENCHMARKS.md

demo: build
	$(GO) run ./internal/demo -golive bin/golive

fmt:
	gofmt -w .

clean:
	rm -rf bin
