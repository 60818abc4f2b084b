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

# Packages (make dist): the host's own architecture, and on an amd64 host also
# arm64, cross-built with Debian multiarch and tested under qemu-user.
HOST_ARCH     := $(shell dpkg --print-architecture 2>/dev/null)
CROSS_ARCH    := $(if $(filter amd64,$(HOST_ARCH)),arm64)
CROSS_TRIPLET := aarch64-linux-gnu
DIST_ARCHES   := $(HOST_ARCH) $(CROSS_ARCH)
DEB_VERSION   := $(shell packaging/debversion '$(VERSION)')
# The cross build needs BUILD_PKGS' libraries and headers for arm64 (less the
# compiler, pkg-config and the DRI drivers, which are the host's).
CROSS_PKGS    := $(if $(CROSS_ARCH),gcc-$(CROSS_TRIPLET) libc6-dev-$(CROSS_ARCH)-cross qemu-user-static \
                 $(addsuffix :$(CROSS_ARCH),pkgconf $(filter-out gcc pkg-config libgl1-mesa-dri,$(BUILD_PKGS))))
DIST_PKGS     := binutils lintian systemd $(CROSS_PKGS)
# The packages whose tests also run built for arm64, under qemu-user (make
# test-cross; about a minute). No -race there. Left out: those that need a
# camera's or a sound server's ioctls that qemu-user does not translate
# (capture/audio, capture/v4l2, internal/pipeline), or run golive itself
# (cmd/golive: packaging's TestArm64Push runs the arm64 golive instead);
# publish/record, whose crash test runs its own binary again (qemu-user
# without binfmt cannot), and publish/srt, whose tests time a shaped link.
CROSS_TEST    := ./media/... ./capture ./capture/testsrc ./capture/file ./capture/failover ./filter ./filter/spec \
                 ./filter/cpu ./encode ./publish ./publish/rtmp ./publish/whip/... ./publish/mux ./internal/abr \
                 ./internal/preset ./internal/sdnotify ./internal/status
QEMU          := qemu-$(subst arm64,aarch64,$(CROSS_ARCH))-static

.PHONY: all deps deps-dist build dist test test-cross bench demo vet fmt clean

all: build

# Idempotent and quiet: apt-get runs (update first) only when a package is missing.
# $(call apt_install,PACKAGES,WHAT): install what of PACKAGES is missing (pkg:arch allowed).
define apt_install
	@missing=$$(for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "$(2): installing" $$missing; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	fi
endef

deps:
	$(call apt_install,$(BUILD_PKGS) $(TEST_PKGS),deps)
	@command -v $(GO) >/dev/null || { echo "deps: Go 1.21 or newer is needed (go.mod asks for 1.26; newer toolchains download it): https://go.dev/dl/"; exit 1; }

# What make dist and its tests need besides deps: on an amd64 host the arm64
# architecture in dpkg, the cross compiler, the :arm64 -dev packages and
# qemu-user; lintian and systemd-analyze.
deps-dist: deps
ifneq ($(CROSS_ARCH),)
	@dpkg --print-foreign-architectures | grep -qx $(CROSS_ARCH) || \
		{ echo "deps-dist: dpkg --add-architecture $(CROSS_ARCH)"; $(SUDO) dpkg --add-architecture $(CROSS_ARCH); }
endif
	$(call apt_install,$(DIST_PKGS),deps-dist)

build: deps
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/golive ./cmd/golive

# dist/golive_VERSION_ARCH.deb and dist/golive_VERSION_linux_ARCH.tar.gz for
# each of DIST_ARCHES (packaging/mkdist says what goes in).
dist: $(addprefix dist-,$(DIST_ARCHES))

# The binaries are built as Debian builds its packages (PIE, relro and bind-now,
# fortified C), without debug information.
DIST_BUILD := CGO_ENABLED=1 CGO_CFLAGS="-O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong" \
	$(GO) build -trimpath -buildmode=pie -ldflags "-s -w -extldflags '-Wl,-z,relro,-z,now' $(LDFLAGS)"

dist-%: deps-dist
	@mkdir -p dist/build/$*
	env GOARCH=$* $(if $(filter-out $(HOST_ARCH),$*),CC=$(CROSS_TRIPLET)-gcc PKG_CONFIG=$(CROSS_TRIPLET)-pkg-config) \
		$(DIST_BUILD) -o dist/build/$*/golive ./cmd/golive
	GO=$(GO) packaging/mkdist $* dist/build/$*/golive '$(DEB_VERSION)' dist

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }

# Every test, integration tests against real nginx-rtmp included; packaging/
# tests what make dist wrote (lintian, the unit, the arm64 binary end to end).
test: deps deps-dist vet dist
	$(GO) test -race -count=1 -timeout 12m ./...
ifneq ($(CROSS_ARCH),)
	$(MAKE) --no-print-directory test-cross
endif

# The tests of CROSS_TEST built for CROSS_ARCH, run under qemu-user.
test-cross: deps-dist
ifneq ($(CROSS_ARCH),)
	env GOARCH=$(CROSS_ARCH) CGO_ENABLED=1 CC=$(CROSS_TRIPLET)-gcc PKG_CONFIG=$(CROSS_TRIPLET)-pkg-config \
		$(GO) test -count=1 -timeout 10m -exec '$(QEMU)' $(CROSS_TEST)
else
	@echo "test-cross: nothing to cross-test on $(HOST_ARCH): make test runs these tests natively"
endif

# Benchmarks: Go micro-benchmarks, then golive vs the ffmpeg command line in
# the same run; writes docs/BENCHMARKS.md.
bench: build
	$(GO) run ./internal/benchrun -golive bin/golive -out docs/BENCHMARKS.md

demo: build
	$(GO) run ./internal/demo -golive bin/golive

fmt:
	gofmt -w .

clean:
	rm -rf bin dist
