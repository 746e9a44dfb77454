# PearIRC — the two set-up commands of the README, plus helpers.
#   make run    installs what is missing, builds and starts pearircd with its defaults
#   make test   installs what is missing, builds and runs the whole test suite

SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
APT_PACKAGES := libsodium-dev libsqlite3-dev pkg-config

.PHONY: run test test-deps deps build release clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@command -v $(SWIFT) >/dev/null || { echo "error: the Swift 6 toolchain is required (https://www.swift.org/install/linux/)"; exit 1; }

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

run: deps
	$(SWIFT) run -c release pearircd $(ARGS)

# Hole punching races the clock: the NAT matrix runs on its own after the rest (in parallel with the whole suite, a
# punch on this 2-core machine was once slow enough for the relay to take the pair).
test: deps test-deps
	$(SWIFT) test --skip NATMatrixTests
	$(SWIFT) test --filter NATMatrixTests
	PEARIRCD="$$($(SWIFT) build --show-bin-path)/pearircd" node $$(node --experimental-websocket -e 0 2>/dev/null && echo --experimental-websocket) \
	  --test Tests/web/client.test.mjs Tests/web/live.test.mjs

# The browser client's modules are tested with node (its own test runner; nothing from npm); the live test, against
# pearircd over a WebSocket, needs a node with WebSocket (20 with the flag, or 22+) and skips on older ones.
test-deps:
	@command -v node >/dev/null || { echo "installing: nodejs"; $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs; }

clean:
	rm -rf .build

# Real clients end to end: irssi (TLS) and WeeChat (plain) in tmux, first against `pearircd run --standalone`, then
# on two peer-to-peer gateways joined by --peer, then meeting on a local DHT test net only (irssi on A, WeeChat on B).
# Needs irssi, weechat-curses and tmux (apt-get install -y irssi weechat-curses tmux) and python3.
# Then the browser client in headless Chromium (apt-get install -y chromium), driven from node over the DevTools
# protocol (Tests/web/browser.test.mjs; it skips, saying so, where chromium or node's WebSocket is missing).
# CONFIG=release runs them against the binary `make run` starts (linked self-contained, see Package.swift).
CONFIG ?= debug
e2e: deps test-deps
	$(SWIFT) build -c $(CONFIG) --product pearircd
	python3 Tests/e2e/clients.py --pearircd "$$($(SWIFT) build -c $(CONFIG) --show-bin-path)/pearircd"
	python3 Tests/e2e/p2p_clients.py --pearircd "$$($(SWIFT) build -c $(CONFIG) --show-bin-path)/pearircd"
	python3 Tests/e2e/login_clients.py --pearircd "$$($(SWIFT) build -c $(CONFIG) --show-bin-path)/pearircd"
	PEARIRCD="$$($(SWIFT) build -c $(CONFIG) --show-bin-path)/pearircd" node $$(node --experimental-websocket -e 0 2>/dev/null && echo --experimental-websocket) \
		--test Tests/web/browser.test.mjs

# irctest conformance (docs/conformance.md): clones irctest into .build/irctest at a pinned commit if missing.
# Needs python3 with pytest, pytest-xdist, filelock, ecdsa.
conformance: deps
	$(SWIFT) build --product pearircd
	PEARIRCD="$$($(SWIFT) build --show-bin-path)/pearircd" bash Tests/irctest/run.sh

# libFuzzer harnesses for every decoder of network or disk bytes (Fuzz/, its own package): builds them with the
# address sanitizer and runs each target SECONDS seconds from seeds made of the reference vectors.
SECONDS ?= 60
fuzz: deps
	bash Fuzz/run.sh $(SECONDS)

# Live interop with the Node.js reference (udx-native 1.20.7, hyperdht 6.33): needs the tree ../shared/interop/README.md
# assembles, beside this repository as ../interop or where INTEROP points. The tests skip where it is absent.
INTEROP ?= $(abspath ../interop)
interop: deps
	PEARIRC_INTEROP="$(INTEROP)" $(SWIFT) test --filter "UDXInteropTests|DHTInteropTests|HolepunchInteropTests|SwarmRoomInteropTests"

# The NAT matrix (issue 17, docs/nat-matrix.md): all 25 pairs of NAT kinds, built in network namespaces, RUNS times
# each; root only. CI runs a representative subset (NATMatrixTests).
RUNS ?= 3
nat-matrix: deps
	bash Tests/nat-matrix/run.sh $(RUNS)

.PHONY: e2e conformance fuzz interop nat-matrix
