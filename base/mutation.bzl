"""Builds with the simulator's mutants (deliberate Raft bugs) compiled in.

Production code marks each mutation point with RB_MUTANT(kName) (base/mutation.h). In the
default configuration that is the constant false, and the optimizer removes the mutant's
code: no production binary carries it. The rules here build a binary or a test in a second
configuration whose copts add -DRB_MUTANTS, so the same sources are compiled once more with
the mutation points live (off until a run activates one). Bazel keeps the two
configurations in separate output directories. Nothing in the default build graph depends
on this file's rules except the targets that use them.
"""

def _mutants_on_impl(settings, attr):
    # -DRB_MUTANTS for every compilation in this configuration; only base/mutation.h reads it.
    return {"//command_line_option:copt": settings["//command_line_option:copt"] + ["-DRB_MUTANTS"]}

_mutants_on = transition(
    implementation = _mutants_on_impl,
    inputs = ["//command_line_option:copt"],
    outputs = ["//command_line_option:copt"],
)

def _forward_impl(ctx):
    target = ctx.attr.target
    if type(target) == "list":
        target = target[0]
    info = target[DefaultInfo]
    exe = info.files_to_run.executable
    out = ctx.actions.declare_file(ctx.label.name)
    ctx.actions.symlink(output = out, target_file = exe, is_executable = True)
    runfiles = ctx.runfiles(files = [exe]).merge(info.default_runfiles)
    return [DefaultInfo(executable = out, runfiles = runfiles)]

_ATTRS = {
    "target": attr.label(cfg = _mutants_on, executable = True, mandatory = True),
    "_allowlist_function_transition": attr.label(
        default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
    ),
}

# bazel run //x:name runs `target` built with the mutants compiled in.
mutant_binary = rule(implementation = _forward_impl, attrs = _ATTRS, executable = True)

# bazel test //x:name runs the test `target` built with the mutants compiled in.
mutant_test = rule(implementation = _forward_impl, attrs = _ATTRS, test = True)
