"""rb_fuzz_test: one libFuzzer target, built two ways.

<name> is a cc_test that `bazel test //...` runs with any compiler: the standalone driver
(standalone_main.cc) feeds it every file of its corpus, then a bounded number of seeded
mutations of them. <name>_fuzzer is the libFuzzer binary proper, coverage-guided, built
only with clang (`--config=fuzz`, see scripts/fuzz.sh); `bazel test //...` skips it.
"""

def rb_fuzz_test(name, srcs, deps, runs = 3000, size = "small", **kwargs):
    """The corpus is every file under corpus/<name>/ (seeds; libFuzzer adds to it)."""
    native.filegroup(
        name = name + "_corpus",
        srcs = native.glob(["corpus/%s/*" % name]),
    )
    native.cc_test(
        name = name,
        srcs = srcs,
        deps = deps + ["//fuzz:standalone_main"],
        data = [":" + name + "_corpus"],
        args = ["--runs=%d" % runs, "$(locations :%s_corpus)" % name],
        size = size,
        **kwargs
    )
    native.cc_binary(
        name = name + "_fuzzer",
        testonly = True,
        srcs = srcs,
        deps = deps,
        linkopts = ["-fsanitize=fuzzer"],
        tags = ["manual"],
        **kwargs
    )
