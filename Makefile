# pyusage: the two commands that do everything on a fresh machine are
#   make demo   build, make a package map, trace a few Python workloads, show the records
#   make test   build and run every test (installs what the tests need when root)
# `make bench` prints the overhead table (see bench/README.md).

CARGO ?= cargo
RELEASE := target/release

.PHONY: all build demo test test-deps fixtures bench lint clean

all: build

build:
	$(CARGO) build --release --workspace

fixtures:
	tests/fixtures/venv.sh

demo: build fixtures
	bash packaging/demo.sh

# System packages some tests need; installed when running as root, otherwise
# those tests skip with a message saying what is missing.
test-deps:
	bash tests/fixtures/system-deps.sh

# The preload is built on its own (panic = abort, no_std); `cargo test` then
# builds everything else once, the `pyusage` program included, for the tests.
test: test-deps fixtures
	$(CARGO) build --release -p pyusage-preload
	$(CARGO) test --release --workspace

bench: build fixtures
	bash bench/run.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
	rm -rf build
