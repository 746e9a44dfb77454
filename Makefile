# PearIRC — the two set-up commands of the README, plus helpers.
#   make run    installs what is missing, builds and starts pearircd with its defaults
#   make test   installs what is missing, builds and runs the whole test suite

SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
APT_PACKAGES := libsodium-dev libsqlite3-dev pkg-config

.PHONY: run test deps build release clean

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

test: deps
	$(SWIFT) test

clean:
	rm -rf .build
