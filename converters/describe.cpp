#include "converters/describe.h"

#include <google/protobuf/util/json_util.h>

#include <map>
#include <stdexcept>

#include "formats/io/hash.h"
#include "formats/io/utf8.h"

namespace owl {

namespace {

// protobuf's string fields must hold UTF-8; a file's names and values may not, so those go
// into the bytes fields beside them.
void put_array(const Array& a, pb::ArrayValue& out) {
  out.set_elem_type(std::string(value_type_name(a.elem())));
  switch (a.elem()) {
    case ValueType::STRING:
    case ValueType::ARRAY:
      for (const Value& item : a) *out.add_items() = to_proto(item);
      break;
    case ValueType::BOOL:
      out.mutable_bools()->Reserve(static_cast<int>(a.size()));
      for (const Value& item : a) out.add_bools(item.as_bool());
      break;
    case ValueType::F32:
    case ValueType::F64:
      out.mutable_floats()->Reserve(static_cast<int>(a.size()));
      for (const Value& item : a) out.add_floats(item.as_f64());
      break;
    case ValueType::U64:
      out.mutable_uints()->Reserve(static_cast<int>(a.size()));
      for (const Value& item : a) out.add_uints(item.as_u64());
      break;
    default:
      out.mutable_ints()->Reserve(static_cast<int>(a.size()));
      for (const Value& item : a) out.add_ints(*item.to_int());
  }
}

}  // namespace

pb::Value to_proto(const Value& v) {
  pb::Value out;
  out.set_type(std::string(value_type_name(v.type())));
  switch (v.type()) {
    case ValueType::BOOL:
      out.set_bool_value(v.as_bool());
      break;
    case ValueType::STRING:
      if (is_valid_utf8(v.as_string()))
        out.set_string_value(v.as_string());
      else
        out.set_bytes_value(v.as_string());
      break;
    case ValueType::F32:
    case ValueType::F64:
      out.set_float_value(v.as_f64());
      break;
    case ValueType::ARRAY:
      put_array(v.as_array(), *out.mutable_array_value());
      break;
    default:
      if (v.is_signed())
        out.set_int_value(v.as_i64());
      else
        out.set_uint_value(v.as_u64());
  }
  return out;
}

std::string hash_tensor(const Tensor& t) {
  Xxh3Hasher h;
  if (t.data) {
    for_each_chunk(*t.data, [&](std::span<const std::byte> c) { h.update(c); });
    t.data->release();
  }
  return h.hex();
}

pb::GraphDescription describe(const Graph& g, const DescribeOptions& opt) {
  pb::GraphDescription d;
  d.set_format(g.format);
  d.set_architecture(g.architecture);
  d.set_parameter_count(g.parameter_count());
  d.set_size_on_disk(g.input_bytes());
  for (const auto& f : g.inputs) {
    auto* fd = d.add_files();
    fd->set_path(f.path);
    fd->set_size(f.size);
  }

  // Totals per type, in the order types first appear.
  std::vector<std::string> order;
  std::map<std::string, pb::TypeTotal> totals;
  for (const auto& t : g.tensors) {
    std::string name(type_name(t.type));
    auto [it, fresh] = totals.try_emplace(name);
    if (fresh) {
      order.push_back(name);
      it->second.set_type(name);
    }
    it->second.set_tensors(it->second.tensors() + 1);
    it->second.set_elements(it->second.elements() + t.elements());
    it->second.set_bytes(it->second.bytes() + t.byte_size());
  }
  for (const auto& name : order) *d.add_type_totals() = totals[name];

  for (const auto& [key, value] : g.metadata) {
    if (!opt.metadata) break;
    auto* e = d.add_metadata();
    if (is_valid_utf8(key))
      e->set_key(key);
    else
      e->set_key_bytes(key);
    *e->mutable_value() = to_proto(value);
  }

  if (opt.hashes && opt.progress)
    opt.progress->begin("hashing", g.tensors.size(), g.tensor_bytes());
  for (const auto& t : g.tensors) {
    auto* td = d.add_tensors();
    if (is_valid_utf8(t.name))
      td->set_name(t.name);
    else
      td->set_name_bytes(t.name);
    for (uint64_t dim : t.shape) td->add_shape(dim);
    td->set_type(std::string(type_name(t.type)));
    td->set_byte_size(t.byte_size());
    if (opt.hashes) {
      td->set_xxh3_128(hash_tensor(t));
      if (opt.progress) opt.progress->advance(1, t.byte_size());
    }
  }
  if (opt.hashes && opt.progress) opt.progress->end();
  return d;
}

std::string to_json(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  o.preserve_proto_field_names = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(m, &out, o);
  if (!status.ok()) throw std::runtime_error("cannot print JSON: " + status.ToString());
  return out;
}

}  // namespace owl
