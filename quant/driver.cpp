#include "quant/driver.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

#include "formats/io/error.h"
#include "quant/codec.h"
#include "quant/float_codec.h"
#include "quant/read_ahead.h"

namespace owl {

int resolve_threads(int threads) {
  return threads > 0 ? threads : omp_get_num_procs();
}

namespace {

// F16's exponent bits: all set in an infinity (a value too large for F16) or a NaN.
constexpr uint16_t kF16ExponentMask = 0x7c00;

// A value the output cannot hold, found in one row.
struct BadValue {
  uint64_t column = 0;
  float value = 0;
  bool overflow = false;  // finite, but too large for F16
};

// Whether no value is NaN or infinite: a branch-free scan the compiler vectorises, since it runs
// over every weight. first_non_finite finds the culprit in the rare row that has one.
bool all_finite(std::span<const float> x) {
  constexpr uint32_t kExponent = 0x7f800000;
  uint32_t bad = 0;
  for (const float v : x) {
    uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    bad |= static_cast<uint32_t>((bits & kExponent) == kExponent);
  }
  return bad == 0;
}

// A tensor as rows, in its input and output types.
struct RowGeometry {
  uint64_t row_elems = 0, rows = 0, in_row_bytes = 0, out_row_bytes = 0;
  uint64_t rows_per_expert = 1;  // the rows of one matrix: a 3-D tensor stacks its experts'
};

// The plan has checked that rows are whole blocks of both types.
RowGeometry geometry_of(const TensorPlan& p) {
  RowGeometry g;
  g.row_elems = p.shape.empty() ? 1 : p.shape.back();
  g.rows = g.row_elems ? p.elements / g.row_elems : 0;
  g.in_row_bytes = *bytes_for_elements(p.from, g.row_elems);
  g.out_row_bytes = *bytes_for_elements(p.to, g.row_elems);
  g.rows_per_expert = p.shape.size() >= 2 ? p.shape[p.shape.size() - 2] : 1;
  return g;
}

// The rows converted at a time: a writer's chunk of output (for_each_chunk's default), or fewer
// when their input would be larger. Quantizing shrinks rows several times over, so a chunk of
// Q4_K output is some 60 MB of BF16 input; capping the input too keeps memory at a constant,
// whatever the tensor (a stack of experts is hundreds of MB).
uint64_t rows_per_read(const RowGeometry& g) {
  const uint64_t widest = std::max(g.out_row_bytes, g.in_row_bytes);
  return widest ? std::max<uint64_t>(1, kStreamChunkBytes / widest) : 1;
}

// Converts one tensor, row by row: each row to F32 (a cast or a dequantization), checked, then
// into the target (a quantization, with the row's expert's importance weights when the plan has
// them, or a cast).
class ConvertedTensor final : public Source {
 public:
  ConvertedTensor(std::shared_ptr<ReadAhead> read_ahead, size_t slot, SourcePtr input,
                  const TensorPlan& p, const RowGeometry& rows,
                  std::shared_ptr<const ImportanceWeights> imatrix, int threads, std::string file,
                  std::shared_ptr<const Hessian> hessian)
      : read_ahead_(std::move(read_ahead)),
        slot_(slot),
        input_(std::move(input)),
        name_(p.name),
        file_(std::move(file)),
        from_(p.from),
        to_(p.to),
        threads_(threads),
        row_elems_(rows.row_elems),
        rows_(rows.rows),
        in_row_bytes_(rows.in_row_bytes),
        out_row_bytes_(rows.out_row_bytes),
        rows_per_read_(rows_per_read(rows)),
        rows_per_expert_(std::max<uint64_t>(1, rows.rows_per_expert)),
        imatrix_(std::move(imatrix)),
        hessian_(std::move(hessian)) {
    if (!p.weights.empty()) weights_ = imatrix_->at(p.weights);
  }

  uint64_t byte_size() const override { return rows_ * out_row_bytes_; }
  uint64_t granule() const override { return out_row_bytes_; }

  void read(uint64_t offset, std::span<std::byte> out) const override {
    if (offset % out_row_bytes_ || out.size() % out_row_bytes_ || offset + out.size() > byte_size())
      throw std::logic_error("ConvertedTensor: read past the end or off a row");
    const uint64_t first = offset / out_row_bytes_, n = out.size() / out_row_bytes_;
    prepare_factor();
    for (uint64_t done = 0; done < n; done += rows_per_read_) {
      const uint64_t count = std::min(rows_per_read_, n - done);
      {
        const ReadAhead::Rows in = read_ahead_->take(slot_, first + done, count);
        convert_rows(in.bytes, out.subspan(done * out_row_bytes_, count * out_row_bytes_),
                     first + done, count);
      }
      // The input's pages are done with at once, not when the writer's chunk is.
      input_->release_range((first + done) * in_row_bytes_, count * in_row_bytes_);
    }
  }

  void release() const override {
    input_->release();
    const std::lock_guard lock(factor_mutex_);
    factor_.reset();
  }
  void release_range(uint64_t offset, uint64_t length) const override {
    input_->release_range(offset / out_row_bytes_ * in_row_bytes_,
                          length / out_row_bytes_ * in_row_bytes_);
  }

 private:
  // The inverse Cholesky factor is computed once, when the first rows are pulled (a Cholesky per
  // tensor, threads inside it), and dropped when the writer is done with the tensor.
  void prepare_factor() const {
    if (!hessian_) return;
    const std::lock_guard lock(factor_mutex_);
    if (!factor_) factor_ = std::make_shared<const GptqFactor>(*hessian_);
  }

  void convert_rows(std::span<const std::byte> in, std::span<std::byte> out, uint64_t first,
                    uint64_t n) const {
    // An exception cannot leave an OpenMP region: each row notes its first bad value, and the
    // first bad row is reported after the loop, the same whatever the thread count.
    std::vector<std::optional<BadValue>> bad(n);
    const int64_t rows = static_cast<int64_t>(n);
#pragma omp parallel num_threads(threads_) if (rows > 1)
    {
      std::vector<float> row(row_elems_);
#pragma omp for schedule(static)
      for (int64_t r = 0; r < rows; ++r) {
        const auto i = static_cast<uint64_t>(r);
        bad[i] =
            convert_row(in.subspan(i * in_row_bytes_, in_row_bytes_), row,
                        out.subspan(i * out_row_bytes_, out_row_bytes_), weights_of(first + i));
      }
    }
    for (uint64_t i = 0; i < n; ++i)
      if (bad[i]) report(first + i, *bad[i]);
  }

  // The importance weights of a row: its expert's slice; empty without an imatrix.
  std::span<const float> weights_of(uint64_t row) const {
    if (weights_.empty()) return {};
    return weights_.subspan(row / rows_per_expert_ * row_elems_, row_elems_);
  }

  std::optional<BadValue> convert_row(std::span<const std::byte> in, std::span<float> row,
                                      std::span<std::byte> out,
                                      std::span<const float> weights) const {
    const auto row_bytes = std::as_writable_bytes(row);
    if (is_quantized(from_))
      block_codec(from_).dequantize(in.data(), row.data(), row_elems_);
    else
      cast_elements(from_, in, ElemType::F32, row_bytes, row_elems_);
    if (!all_finite(row)) {
      const size_t c = first_non_finite(row);
      return BadValue{c, row[c]};
    }
    if (is_quantized(to_)) {
      // The row is finite and whole blocks (the plan checked): neither call can throw.
      if (factor_)
        factor_->quantize_row(to_, row, out, weights);
      else if (weights.empty())
        block_codec(to_).quantize(row.data(), out.data(), row_elems_);
      else
        quantize_row_weighted(to_, row, out, weights);
      return std::nullopt;
    }
    cast_elements(ElemType::F32, row_bytes, to_, out, row_elems_);
    if (to_ == ElemType::F16) return first_f16_overflow(row, out);
    return std::nullopt;
  }

  static std::optional<BadValue> first_f16_overflow(std::span<const float> row,
                                                    std::span<const std::byte> out) {
    for (size_t c = 0; c < row.size(); ++c) {
      uint16_t h;
      std::memcpy(&h, out.data() + 2 * c, 2);
      if ((h & kF16ExponentMask) == kF16ExponentMask) return BadValue{c, row[c], true};
    }
    return std::nullopt;
  }

  [[noreturn]] void report(uint64_t row, const BadValue& b) const {
    const std::string where = "tensor '" + name_ + "': element " +
                              std::to_string(row * row_elems_ + b.column) + " (row " +
                              std::to_string(row) + ", column " + std::to_string(b.column) + ")";
    if (b.overflow)
      throw InputError(file_, where + " is " + std::to_string(b.value) + ", too large for F16");
    const std::string what = std::isnan(b.value) ? "NaN" : b.value > 0 ? "+inf" : "-inf";
    throw InputError(file_,
                     where + " is " + what + "; a NaN or infinite weight cannot be quantized");
  }

  std::shared_ptr<ReadAhead> read_ahead_;
  size_t slot_;
  SourcePtr input_;
  std::string name_, file_;
  ElemType from_, to_;
  int threads_;
  uint64_t row_elems_, rows_, in_row_bytes_, out_row_bytes_, rows_per_read_, rows_per_expert_;
  std::shared_ptr<const ImportanceWeights> imatrix_;
  std::span<const float> weights_;          // experts x row_elems_, in imatrix_
  std::shared_ptr<const Hessian> hessian_;  // null: no error feedback
  mutable std::mutex factor_mutex_;
  mutable std::shared_ptr<const GptqFactor> factor_;
};

// The tensor's calibration matrix if it gets error feedback: a 2-D matrix of a supported type
// whose width matches.
std::shared_ptr<const Hessian> hessian_for(const TensorPlan& p, const RowGeometry& r,
                                           const Hessians* hessians) {
  if (!hessians || p.shape.size() != 2 || !gptq_supports(p.to, r.row_elems)) return nullptr;
  const auto it = hessians->find(p.name);
  if (it == hessians->end() || it->second->cols != r.row_elems) return nullptr;
  return it->second;
}

}  // namespace

void apply_plan(Graph& g, const Plan& plan, const DriverOptions& opt,
                std::shared_ptr<const Hessians> hessians) {
  if (plan.tensors.size() != g.tensors.size())
    throw std::logic_error("apply_plan: the plan is for another graph");
  const int threads = resolve_threads(opt.threads);
  std::vector<size_t> converted;
  std::vector<RowGeometry> rows;
  std::vector<ReadAhead::Input> inputs;
  for (size_t i = 0; i < g.tensors.size(); ++i) {
    if (plan.tensors[i].to == g.tensors[i].type) continue;
    converted.push_back(i);
    rows.push_back(geometry_of(plan.tensors[i]));
    const RowGeometry& r = rows.back();
    inputs.push_back({g.tensors[i].data, r.rows, r.in_row_bytes, rows_per_read(r)});
  }
  if (converted.empty()) return;
  auto read_ahead = std::make_shared<ReadAhead>(std::move(inputs));
  for (size_t slot = 0; slot < converted.size(); ++slot) {
    Tensor& t = g.tensors[converted[slot]];
    const TensorPlan& p = plan.tensors[converted[slot]];
    t.data = std::make_shared<ConvertedTensor>(read_ahead, slot, t.data, p, rows[slot],
                                               plan.imatrix, threads, opt.file,
                                               hessian_for(p, rows[slot], hessians.get()));
    t.type = p.to;
  }
}

}  // namespace owl
