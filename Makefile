# The front door. `make run` and `make test` install whatever is missing
# (Debian packages, only those absent), build with meson, and run.
BUILD      ?= build
ASAN_BUILD ?= build-asan
BENCH_BUILD ?= build-release
INSTALL_BUILD ?= build-install
PREFIX     ?= /usr/local
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 2
CONFIG     ?= config/switchboard.json

# Needed to build and run.
BUILD_PACKAGES = meson ninja-build g++ pkg-config python3 libuv1-dev nlohmann-json3-dev doctest-dev
# Real programs the integration tests serve and use as clients; the man page
# linters; systemd-analyze (package systemd) for the unit files; Prometheus'
# own text parser for /metrics; PyYAML for the alerting rules.
TEST_PACKAGES  = tftpd-hpa tftp-hpa rsync procps mandoc groff systemd python3-prometheus-client python3-yaml
# The files `switchboard import` is tested on (/etc/xinetd.d); the daemon is not started.
TEST_PACKAGES += xinetd
TEST_PACKAGES += haproxy
# clang with libFuzzer and the sanitizer runtimes, for `make fuzz`.
FUZZ_PACKAGES  = clang libclang-rt-14-dev

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps test-deps fuzz-deps build run test bench install fuzz clean

all: build

deps:
	@sh tools/install-packages.sh $(BUILD_PACKAGES)

test-deps: deps
	@sh tools/install-packages.sh $(TEST_PACKAGES)

$(BUILD)/build.ninja:
	meson setup $(BUILD)

fuzz-deps: deps
	@sh tools/install-packages.sh $(FUZZ_PACKAGES)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	@echo "switchboard: serving $(CONFIG) in the foreground (Ctrl-C stops it). From another terminal:"
	@echo "  $(CURDIR)/$(BUILD)/switchboard ctl -c $(abspath $(CONFIG)) status"
	@echo "  printf 'hello\\r\\n' | $(CURDIR)/$(BUILD)/switchboard probe tcp://127.0.0.1:10007"
	$(BUILD)/switchboard run -c $(CONFIG)

# The whole suite twice: a normal build, then AddressSanitizer + UBSan.
test: test-deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD)
	@[ -f $(ASAN_BUILD)/build.ninja ] || meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C $(BUILD)
	ninja -C $(ASAN_BUILD)
	@status=0; \
	meson test -C $(BUILD) --print-errorlogs --num-processes 2 || status=1; \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  meson test -C $(ASAN_BUILD) --print-errorlogs --num-processes 2 || status=1; \
	python3 tools/test-summary.py $(BUILD) $(ASAN_BUILD) || status=1; \
	exit $$status

bench: deps
	@[ -f $(BENCH_BUILD)/build.ninja ] || meson setup $(BENCH_BUILD) --buildtype=release
	ninja -C $(BENCH_BUILD)
	python3 tests/bench/run.py --build $(BENCH_BUILD)

# A release build installed under PREFIX (binary in PREFIX/sbin), the
# configuration in /etc/switchboard (an existing one is kept), unit files in
# systemd's unit directory. DESTDIR=/some/root stages it instead.
install: deps
	@[ -f $(INSTALL_BUILD)/build.ninja ] || meson setup $(INSTALL_BUILD) --buildtype=release --prefix=$(PREFIX) -Dtests=disabled
	ninja -C $(INSTALL_BUILD)
	DESTDIR="$(DESTDIR)" meson install -C $(INSTALL_BUILD) --no-rebuild
	@[ -n "$(DESTDIR)" ] || echo "installed; now: systemctl daemon-reload && systemctl enable --now switchboard"

# Every fuzz target (fuzz/meson.build) built with clang, libFuzzer, ASan and
# UBSan, run for FUZZ_SECONDS each (FUZZ_JOBS at once); what they find
# interesting is merged into fuzz/corpus/<target>, which `make test` replays.
fuzz: fuzz-deps
	@[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang CXX=clang++ meson setup $(FUZZ_BUILD) -Dfuzzing=enabled \
	  -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C $(FUZZ_BUILD) $$(sed -n "s/^ *'\([a-z_]*\)',$$/fuzz\/fuzz-\1/p" fuzz/meson.build)
	sh tools/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_JOBS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(BENCH_BUILD) $(INSTALL_BUILD) $(FUZZ_BUILD)
