# pyusage: the two commands that do everything on a fresh machine are
#   make demo   build, make a package map, trace a few Python workloads, show the
#               records, ingest them into a store and write a report
#   make test   build and run every test (installs what the tests need when root)
# `make bench` prints the overhead table (see bench/README.md).
# `make install PREFIX=/opt/pyusage [DESTDIR=] [SYSCONFDIR=/etc] [LOCALSTATEDIR=/var]`
# installs a centre's deployment; `make uninstall` (same variables) removes it,
# keeping the config and the data (README, Deployment).

CARGO ?= cargo
RELEASE := target/release

# Installation layout (GNU-style names; DESTDIR stages into another root).
PREFIX ?= /opt/pyusage
DESTDIR ?=
SYSCONFDIR ?= /etc
LOCALSTATEDIR ?= /var
# The release library is linked against glibc 2.17's symbol versions with
# cargo-zigbuild (packaging/zig-toolchain.sh installs it under build/zig) so it
# loads on compute-node images older than the build host. ZIG=0 builds with the
# host's toolchain instead (the library then needs the build host's glibc).
ZIG ?= 1
ZIG_TARGET := x86_64-unknown-linux-gnu.2.17
ifeq ($(ZIG),1)
DIST_LIB := target/x86_64-unknown-linux-gnu/release/libpyusage.so
else
DIST_LIB := $(RELEASE)/libpyusage.so
endif
# The system config's path is compiled into the library and the command; it
# is set only when it differs from the default, so that `make test` and
# `make install` share one build.
ifneq ($(SYSCONFDIR),/etc)
DIST_ENV := PYUSAGE_SYSTEM_CONFIG=$(SYSCONFDIR)/pyusage/config.toml
endif
# NO_BUILD=1 installs what `make dist` built before (e.g. from a test).
INSTALL_ENV = PREFIX='$(PREFIX)' DESTDIR='$(DESTDIR)' SYSCONFDIR='$(SYSCONFDIR)' \
	LOCALSTATEDIR='$(LOCALSTATEDIR)' LIB='$(DIST_LIB)' BIN='$(RELEASE)/pyusage'

.PHONY: all build dist dist-lib install uninstall demo test test-deps fixtures bench lint clean

all: build

build:
	$(CARGO) build --release --workspace

# The two files `make install` lays down: the old-glibc library and the command.
dist: dist-lib
	$(DIST_ENV) $(CARGO) build --release -p pyusage-tools

dist-lib:
ifeq ($(ZIG),1)
	PATH="$$(packaging/zig-toolchain.sh):$$PATH" $(DIST_ENV) \
	  $(CARGO) zigbuild --release -p pyusage-preload --target $(ZIG_TARGET)
else
	$(DIST_ENV) $(CARGO) build --release -p pyusage-preload
endif

install: $(if $(NO_BUILD),,dist)
	$(INSTALL_ENV) bash packaging/install.sh

uninstall:
	PREFIX='$(PREFIX)' DESTDIR='$(DESTDIR)' bash packaging/uninstall.sh

fixtures:
	tests/fixtures/venv.sh
	tests/fixtures/report-venv.sh

demo: build fixtures
	bash examples/demo.sh

# What the tests need: Debian packages (as root) and the pyenv interpreters
# the tests name. Without them those tests skip with a message saying what
# is missing; under CI=true a skip fails (tests/src/skip.rs).
test-deps:
	bash tests/fixtures/system-deps.sh
	bash tests/fixtures/interpreters.sh

# Builds the preload, runs every test once, prints how many ran and skipped.
test: test-deps fixtures dist-lib
	CARGO=$(CARGO) bash tests/run.sh

bench: build fixtures
	bash bench/run.sh

# Formatting, clippy (SAFETY comments on every unsafe block: see the
# workspace lints in Cargo.toml) and a rust-version that is true.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings
	python3 .ci/check-msrv

clean:
	$(CARGO) clean
	rm -rf build
