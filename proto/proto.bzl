"""cc_proto: C++ (and optionally gRPC) code generation with the system protoc.

Bazel's native proto rules want to build protoc from source, which needs the network;
Debian's /usr/bin/protoc and /usr/bin/grpc_cpp_plugin do the same job offline.
"""

def cc_proto(name, src, deps = [], grpc = False, visibility = None):
    """Generates <src>.pb.{h,cc} (and .grpc.pb.{h,cc} when grpc) and a cc_library `name`.

    With grpc, `name` holds the service stubs and depends on `name`_messages, which holds
    the messages alone.

    Args:
      name: the cc_library's name.
      src: one .proto file in this package.
      deps: other cc_proto targets whose .proto files `src` imports.
      grpc: also generate gRPC service stubs.
      visibility: of the cc_library.
    """
    base = src[:-len(".proto")]
    protoc = "/usr/bin/protoc --proto_path=."
    native.genrule(
        name = name + "_gen",
        srcs = [src] + [d + "_srcs" for d in deps],
        outs = [base + ".pb.h", base + ".pb.cc"],
        cmd = protoc + " --cpp_out=$(GENDIR) $(location %s)" % src,
    )
    native.filegroup(
        name = name + "_srcs",
        srcs = [src] + [d + "_srcs" for d in deps],
        visibility = visibility,
    )
    messages = name + "_messages" if grpc else name
    native.cc_library(
        name = messages,
        srcs = [base + ".pb.cc"],
        hdrs = [base + ".pb.h"],
        deps = deps + ["@system//:protobuf"],
        visibility = visibility,
    )
    if not grpc:
        return

    # The service stubs apart, so that code using only the messages (the simulator) does not
    # link gRPC.
    native.genrule(
        name = name + "_grpc_gen",
        srcs = [src] + [d + "_srcs" for d in deps],
        outs = [base + ".grpc.pb.h", base + ".grpc.pb.cc"],
        cmd = protoc + " --plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin --grpc_out=$(GENDIR)" +
              " $(location %s)" % src,
    )
    native.cc_library(
        name = name,
        srcs = [base + ".grpc.pb.cc"],
        hdrs = [base + ".grpc.pb.h"],
        deps = [":" + messages, "@system//:grpc"],
        visibility = visibility,
    )
