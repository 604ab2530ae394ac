// A graph's description as the protobuf message of graph.proto.
#pragma once

#include <string>

#include "converters/graph.h"
#include "converters/graph.pb.h"
#include "converters/progress.h"

namespace owl {

pb::Value to_proto(const Value& v);

struct DescribeOptions {
  bool hashes = false;  // xxh3-128 of every tensor's bytes (reads the whole model)
  bool metadata =
      true;  // the metadata entries (a table that prints them from the graph skips them)
  Progress* progress = nullptr;
};

pb::GraphDescription describe(const Graph& g, const DescribeOptions& opt = {});

// xxh3-128 of a tensor's bytes, streamed; releases mapped pages as it goes.
std::string hash_tensor(const Tensor& t);

// protobuf's JSON mapping, with the .proto field names.
std::string to_json(const google::protobuf::Message& m);

}  // namespace owl
