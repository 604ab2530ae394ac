#include "validate/report.h"
#include "formats/io/utf8.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

namespace owl::validate {
namespace {

// JSON has no infinity: an exact match's SNR is null.
Json number_or_null(double v) {
  return std::isfinite(v) ? Json(v) : Json(nullptr);
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string escape_html(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A histogram of per-token KLD on log-spaced bins from 1e-6 to the maximum.
std::string kld_histogram_svg(const std::vector<TokenScore>& scores) {
  constexpr int kBins = 40, kW = 640, kH = 220, kPad = 40;
  const double lo = -6;
  double hi = lo + 1;
  for (const auto& s : scores) hi = std::max(hi, std::log10(std::max(s.kld, 1e-6)));
  hi = std::ceil(hi);
  std::vector<int> bins(kBins, 0);
  for (const auto& s : scores) {
    const double x = (std::log10(std::max(s.kld, 1e-6)) - lo) / (hi - lo);
    bins[std::clamp(static_cast<int>(x * kBins), 0, kBins - 1)]++;
  }
  const int peak = std::max(1, *std::max_element(bins.begin(), bins.end()));
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << kW << "' height='" << kH + kPad + 10
      << "'>";
  const double bw = static_cast<double>(kW - 2 * kPad) / kBins;
  for (int i = 0; i < kBins; ++i) {
    const double h = static_cast<double>(bins[i]) / peak * kH;
    svg << "<rect x='" << kPad + i * bw << "' y='" << kH - h + 10 << "' width='" << bw - 1
        << "' height='" << h << "' fill='#4c78a8'><title>" << bins[i] << " tokens</title></rect>";
  }
  for (int e = static_cast<int>(lo); e <= static_cast<int>(hi); ++e) {
    const double x = kPad + (e - lo) / (hi - lo) * (kW - 2 * kPad);
    svg << "<text x='" << x << "' y='" << kH + 28 << "' font-size='11' text-anchor='middle'>1e" << e
        << "</text>";
  }
  svg << "<text x='" << kW / 2 << "' y='" << kH + kPad + 5
      << "' font-size='12' text-anchor='middle'>"
      << "KL divergence per token (nats, log scale; zero counts in the first bin)</text></svg>";
  return svg.str();
}

// Relative RMS error of each tensor kind across the layers, one line per kind.
std::string layer_error_svg(const TensorDiff& d) {
  constexpr int kW = 640, kH = 240, kPad = 50;
  std::map<std::string, std::vector<std::pair<int, double>>> series;
  int max_layer = 0;
  double max_err = 1e-6;
  for (const auto& e : d.tensors) {
    if (e.layer < 0 || !std::isfinite(e.rel_rms) || e.rel_rms <= 0) continue;
    series[e.kind].push_back({e.layer, e.rel_rms});
    max_layer = std::max(max_layer, e.layer);
    max_err = std::max(max_err, e.rel_rms);
  }
  static const char* kColors[] = {"#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2",
                                  "#eeca3b", "#b279a2", "#ff9da6", "#9d755d"};
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << kW + 160 << "' height='" << kH + kPad
      << "'>";
  auto px = [&](int layer) {
    return kPad + (max_layer ? static_cast<double>(layer) / max_layer : 0.5) * (kW - 2 * kPad);
  };
  auto py = [&](double err) { return 10 + (1 - err / max_err) * kH; };
  size_t c = 0;
  for (const auto& [kind, pts] : series) {
    const char* color = kColors[c % std::size(kColors)];
    svg << "<polyline fill='none' stroke='" << color << "' stroke-width='2' points='";
    for (const auto& [layer, err] : pts) svg << px(layer) << "," << py(err) << " ";
    svg << "'/>";
    svg << "<text x='" << kW + 5 << "' y='" << 20 + 16 * c << "' font-size='12' fill='" << color
        << "'>" << escape_html(kind) << "</text>";
    ++c;
  }
  svg << "<text x='" << kPad - 5 << "' y='16' font-size='11' text-anchor='end'>"
      << fmt("%.1e", max_err) << "</text>"
      << "<text x='" << kPad - 5 << "' y='" << kH + 10
      << "' font-size='11' text-anchor='end'>0</text>"
      << "<text x='" << kW / 2 << "' y='" << kH + kPad - 5
      << "' font-size='12' text-anchor='middle'>layer 0.." << max_layer
      << ": relative RMS error of the weights</text></svg>";
  return svg.str();
}

const char* pooling_name(uint32_t pooling) {
  return pooling == 1 ? "mean" : pooling == 2 ? "first token" : "last token";
}

// A sentence-embedding model's figures, in place of the drift of the next-token distribution.
Json embedding_json(const ValidateResult& r) {
  return {{"pooling", pooling_name(r.params.pooling)},
          {"dense_layers", r.dense},
          {"cosine", {{"mean", r.cosine_mean}, {"min", r.cosine_min}, {"per_chunk", r.cosines}}}};
}

std::string embedding_table(const ValidateResult& r) {
  std::ostringstream o;
  o << "embedding cosine  mean " << fmt("%.6f", r.cosine_mean) << "   min "
    << fmt("%.6f", r.cosine_min) << "   (" << pooling_name(r.params.pooling) << " pooling)\n"
    << "dense layers      " << r.dense << "\n";
  return o.str();
}

// The drift of the next-token distribution: the summary table and the KLD histogram.
std::string drift_html(const ValidateResult& r) {
  const DriftSummary& s = r.drift;
  std::ostringstream h;
  h << "<table><tr><th></th><th>value</th></tr>"
    << "<tr><td>mean KL divergence</td><td class='big'>" << fmt("%.6f", s.kld.mean)
    << fmt(" &plusmn; %.6f", s.kld.stderr_) << "</td></tr>"
    << "<tr><td>top-1 agreement</td><td class='big'>" << fmt("%.2f%%", 100 * s.top1_agreement)
    << "</td></tr>"
    << "<tr><td>perplexity ref / test</td><td>" << fmt("%.4f", s.ppl_ref) << " / "
    << fmt("%.4f", s.ppl_test) << "</td></tr>"
    << "<tr><td>KLD median / p90 / p99 / max</td><td>" << fmt("%.6f", s.kld.median) << " / "
    << fmt("%.6f", s.kld.p90) << " / " << fmt("%.6f", s.kld.p99) << " / " << fmt("%.6f", s.kld.max)
    << "</td></tr>"
    << "<tr><td>RMS change of p(correct token)</td><td>" << fmt("%.4f%%", 100 * s.delta_p_rms)
    << "</td></tr></table>";
  h << "<h2>KL divergence per token</h2>" << kld_histogram_svg(r.scores);
  return h.str();
}

}  // namespace

Json tensor_diff_json(const TensorDiff& d) {
  Json tensors = Json::array();
  for (const auto& e : d.tensors) {
    tensors.push_back({{"name", e.name},
                       {"ref_type", e.ref_type},
                       {"test_type", e.test_type},
                       {"elements", e.elements},
                       {"rel_rms", number_or_null(e.rel_rms)},
                       {"snr_db", number_or_null(e.snr_db)},
                       {"cosine", number_or_null(e.cosine)},
                       {"max_abs", number_or_null(e.max_abs)},
                       {"layer", e.layer},
                       {"kind", e.kind}});
  }
  return {{"tensors", tensors},
          {"only_in_ref", d.only_in_ref},
          {"only_in_test", d.only_in_test},
          {"shape_mismatch", d.shape_mismatch}};
}

Json report_json(const ValidateResult& r, const ReportNames& names) {
  const DriftSummary& s = r.drift;
  if (r.params.pooling)
    return {{"ref", names.ref},
            {"test", names.test},
            {"architecture", r.params.arch},
            {"ctx", r.n_ctx},
            {"chunks", r.chunks},
            {"embedding", embedding_json(r)},
            {"tensors", tensor_diff_json(r.tensors)["tensors"]}};
  return {{"ref", names.ref},
          {"test", names.test},
          {"architecture", r.params.arch},
          {"ctx", r.n_ctx},
          {"chunks", r.chunks},
          {"tokens_scored", s.tokens},
          {"kld",
           {{"mean", s.kld.mean},
            {"stderr", s.kld.stderr_},
            {"median", s.kld.median},
            {"p90", s.kld.p90},
            {"p99", s.kld.p99},
            {"max", s.kld.max}}},
          {"top1_agreement", s.top1_agreement},
          {"ppl", {{"ref", s.ppl_ref}, {"test", s.ppl_test}}},
          {"delta_p_rms", s.delta_p_rms},
          {"tensors", tensor_diff_json(r.tensors)["tensors"]}};
}

std::string report_table(const ValidateResult& r, const ReportNames& names) {
  const DriftSummary& s = r.drift;
  std::ostringstream o;
  o << "reference  " << names.ref << "\n"
    << "test       " << names.test << "\n";
  if (r.params.pooling) {
    o << "embedded   " << r.chunks << " chunks of " << r.n_ctx << " tokens\n\n"
      << embedding_table(r);
  } else {
    o << "scored     " << s.tokens << " tokens in " << r.chunks << " chunks of " << r.n_ctx
      << "\n\n";
    o << fmt("perplexity     ref %.4f", s.ppl_ref) << fmt("   test %.4f", s.ppl_test)
      << fmt("   (%+.3f%%)\n", 100 * (s.ppl_test / s.ppl_ref - 1));
    o << fmt("KL divergence  mean %.6f", s.kld.mean) << fmt(" +/- %.6f", s.kld.stderr_)
      << fmt("   median %.6f", s.kld.median) << fmt("   p90 %.6f", s.kld.p90)
      << fmt("   p99 %.6f", s.kld.p99) << fmt("   max %.6f\n", s.kld.max);
    o << fmt("top-1 agree    %.2f%%\n", 100 * s.top1_agreement);
    o << fmt("delta p RMS    %.4f%%\n", 100 * s.delta_p_rms);
  }
  if (!r.tensors.tensors.empty()) {
    // The tensors that lost most: lowest SNR first.
    auto worst = r.tensors.tensors;
    std::sort(worst.begin(), worst.end(),
              [](const auto& a, const auto& b) { return a.snr_db < b.snr_db; });
    o << "\nweights with the largest error (of " << worst.size() << ")\n";
    for (size_t i = 0; i < worst.size() && i < 5; ++i)
      o << "  " << printable(worst[i].name) << "  " << worst[i].ref_type << " -> "
        << worst[i].test_type << fmt("  SNR %.1f dB", worst[i].snr_db)
        << fmt("  rel RMS %.2e\n", worst[i].rel_rms);
  }
  return o.str();
}

std::string report_html(const ValidateResult& r, const ReportNames& names) {
  const DriftSummary& s = r.drift;
  std::ostringstream h;
  h << "<!doctype html><html><head><meta charset='utf-8'><title>owl validate: "
    << escape_html(names.test)
    << "</title><style>body{font-family:system-ui,sans-serif;max-width:900px;margin:2em "
       "auto;color:#222}"
       "table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid "
       "#ddd;text-align:right}"
       "td:first-child,th:first-child{text-align:left}.big{font-size:1.6em;font-weight:600}</"
       "style></head><body>";
  h << "<h1>What the quantization cost</h1><p>reference <code>" << escape_html(names.ref)
    << "</code><br>test <code>" << escape_html(names.test) << "</code><br>";
  if (r.params.pooling) {
    h << r.chunks << " chunks of " << r.n_ctx << " tokens embedded (" << escape_html(r.params.arch)
      << ", " << pooling_name(r.params.pooling)
      << " pooling; dense layers: " << escape_html(r.dense) << ")</p>"
      << "<table><tr><th></th><th>value</th></tr><tr><td>mean cosine of the embeddings</td>"
      << "<td class='big'>" << fmt("%.6f", r.cosine_mean) << "</td></tr>"
      << "<tr><td>lowest cosine</td><td>" << fmt("%.6f", r.cosine_min) << "</td></tr></table>";
  } else {
    h << s.tokens << " tokens scored in " << r.chunks << " chunks of " << r.n_ctx << " ("
      << escape_html(r.params.arch) << ")</p>";
    h << drift_html(r);
  }
  if (!r.tensors.tensors.empty()) {
    h << "<h2>Weight error by layer and tensor kind</h2>" << layer_error_svg(r.tensors);
    h << "<h2>Every tensor</h2><table><tr><th>tensor</th><th>ref</th><th>test</th><th>rel "
         "RMS</th><th>SNR dB</th><th>cosine</th></tr>";
    for (const auto& e : r.tensors.tensors)
      h << "<tr><td>" << escape_html(e.name) << "</td><td>" << e.ref_type << "</td><td>"
        << e.test_type << "</td><td>" << fmt("%.2e", e.rel_rms) << "</td><td>"
        << fmt("%.1f", e.snr_db) << "</td><td>" << fmt("%.6f", e.cosine) << "</td></tr>";
    h << "</table>";
  }
  h << "<p style='color:#888'>made by owl validate</p></body></html>\n";
  return h.str();
}

}  // namespace owl::validate
