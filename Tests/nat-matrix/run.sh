#!/usr/bin/env bash
# The NAT matrix of issue 17 (docs/nat-matrix.md): in Linux network namespaces on this machine, a small internet
# (six persistent DHT nodes on a public-looking 20.0.0.0/8 that exists only inside the namespaces) and home networks
# behind routers made with iptables — open, consistent NAT, randomising NAT, double NAT, firewall — and for each of
# the 25 pairs a client connecting to a server by public key and exchanging a message each way. Root only.
# Usage: Tests/nat-matrix/run.sh [RUNS]   (make nat-matrix RUNS=3)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-3}"
if [ "$(id -u)" != 0 ]; then
    echo "nat-matrix: needs root (network namespaces and iptables)" >&2
    exit 1
fi
swift build -c release --product pear-bench
exec "$(swift build -c release --show-bin-path)/pear-bench" nat-matrix --runs "$runs"
