"""cc_proto: C++ (and optionally gRPC) code generation with the system protoc.

Bazel's native proto rules want to build protoc from source, which needs the network;
Debian's /usr/bin/protoc and /usr/bin/grpc_cpp_plugin do the same job offline.
"""

def cc_proto(name, src, deps = [], grpc = False, visibility = None):
    """Generates <src>.pb.{h,cc} (and .grpc.pb.{h,cc} when grpc) and a cc_library `name`.

    Args:
      name: the cc_library's name.
      src: one .proto file in this package.
      deps: other cc_proto targets whose .proto files `src` imports.
      grpc: also generate gRPC service stubs.
      visibility: of the cc_library.
    """
    base = src[:-len(".proto")]
    outs = [base + ".pb.h", base + ".pb.cc"]
    cmd = "/usr/bin/protoc --proto_path=. --cpp_out=$(GENDIR)"
    if grpc:
        outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]
        cmd += " --plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin --grpc_out=$(GENDIR)"
    native.genrule(
        name = name + "_gen",
        srcs = [src] + [d + "_srcs" for d in deps],
        outs = outs,
        cmd = cmd + " $(location %s)" % src,
    )
    native.filegroup(
        name = name + "_srcs",
        srcs = [src] + [d + "_srcs" for d in deps],
        visibility = visibility,
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        deps = deps + ["@system//:grpc" if grpc else "@system//:protobuf"],
        visibility = visibility,
    )
