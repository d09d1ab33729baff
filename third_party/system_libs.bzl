"""A repository rule exposing Debian's system libraries as cc_library targets.

Link flags come from pkg-config when the repository is fetched, so the long and
version-specific list that gRPC needs (dozens of absl libraries) is never copied by hand.
Headers live in /usr/include, which the compiler searches already.
"""

# target name -> pkg-config modules. Keep each target to what its users need, so that
# the dependency graph shows, for example, that //raft/... links no gRPC or SQLite.
_LIBRARIES = {
    "absl": [
        "absl_base",
        "absl_flat_hash_map",
        "absl_hash",
        "absl_raw_hash_set",
        "absl_status",
        "absl_statusor",
        "absl_str_format",
        "absl_strings",
        "absl_synchronization",
        "absl_time",
    ],
    "absl_flags": ["absl_flags", "absl_flags_parse", "absl_flags_usage"],
    "protobuf": ["protobuf"],
    "grpc": ["grpc++", "protobuf"],
    "sqlite3": ["sqlite3"],
    "xxhash": ["libxxhash"],
    "gtest": ["gtest", "gmock"],
    "gtest_main": ["gtest", "gmock", "gtest_main"],
    "benchmark": ["benchmark"],
    # The /metrics, /livez and /readyz HTTP endpoint (server/metrics_http).
    "microhttpd": ["libmicrohttpd"],
}

# Libraries that ship without a pkg-config file: target name -> (base modules, extra flags).
_EXTRA_LINKOPTS = {
    "benchmark_main": (["benchmark"], ["-lbenchmark_main"]),
    # gRPC server reflection (grpcurl and the like list and call services without .proto).
    "grpc_reflection": (["grpc++", "protobuf"], ["-lgrpc++_reflection"]),
}

def _pkg_config(rctx, pkg_config, flag, modules):
    result = rctx.execute([pkg_config, flag] + modules)
    if result.return_code != 0:
        fail("pkg-config %s %s failed: %s\nRun scripts/install-deps.sh to install the packages." %
             (flag, " ".join(modules), result.stderr))
    return [f for f in result.stdout.strip().split(" ") if f]

def _system_libs_impl(rctx):
    pkg_config = rctx.which("pkg-config")
    if not pkg_config:
        fail("pkg-config is not installed. Run scripts/install-deps.sh first.")
    lines = ['package(default_visibility = ["//visibility:public"])', ""]
    for name in sorted(_LIBRARIES.keys()):
        modules = _LIBRARIES[name]
        linkopts = _pkg_config(rctx, pkg_config, "--libs", modules)
        cflags = _pkg_config(rctx, pkg_config, "--cflags", modules)
        defines = [f[2:] for f in cflags if f.startswith("-D")]
        lines.append("cc_library(")
        lines.append('    name = "%s",' % name)
        lines.append("    linkopts = %s," % repr(linkopts))
        lines.append("    defines = %s," % repr(defines))
        lines.append(")")
        lines.append("")
    for name in sorted(_EXTRA_LINKOPTS.keys()):
        modules, extra = _EXTRA_LINKOPTS[name]
        linkopts = extra + _pkg_config(rctx, pkg_config, "--libs", modules)
        lines.append('cc_library(name = "%s", linkopts = %s)' % (name, repr(linkopts)))
        lines.append("")
    rctx.file("WORKSPACE", 'workspace(name = "%s")\n' % rctx.name)
    rctx.file("BUILD.bazel", "\n".join(lines))

system_libs = repository_rule(
    implementation = _system_libs_impl,
    environ = ["PATH", "PKG_CONFIG_PATH"],
    local = True,
)
