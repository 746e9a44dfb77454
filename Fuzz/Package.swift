// swift-tools-version:6.0
import PackageDescription

// libFuzzer harnesses for every decoder that takes bytes from the network or disk (see FuzzTargets.swift). A package
// of its own, so the main build never sees an executable without a main (libFuzzer provides it). Build and run with
// `make fuzz SECONDS=N` (swift build --sanitize=fuzzer --sanitize=address).
let package = Package(
    name: "PearFuzz",
    dependencies: [.package(name: "PearIRC", path: "..")],
    targets: [
        .executableTarget(
            name: "pear-fuzz",
            dependencies: [
                .product(name: "IRCServer", package: "PearIRC"),
                .product(name: "HyperLog", package: "PearIRC"),
                .product(name: "SwarmEngine", package: "PearIRC"),
                .product(name: "PearBridge", package: "PearIRC"),
                .product(name: "CompactEncoding", package: "PearIRC"),
                .product(name: "Sodium", package: "PearIRC"),
            ]
        )
    ]
)
