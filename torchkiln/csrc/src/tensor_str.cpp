// repr(tensor) as PyTorch's Python prints it (torch/_tensor_str.py), with
// the default print options: precision 4, summarization past 1000 elements
// with 3 edge items, lines of 80 characters. See Note [Tensor text].
//
// Note [Tensor text]
// ~~~~~~~~~~~~~~~~~~
// Python's executors call str(tensor); the C++ runtime must give the same
// text, with no Python to ask. The rules, as _tensor_str.py has them:
//   - one formatter per tensor (two for complex: real and imaginary parts),
//     fitted to the elements that will be shown: integers and bools print as
//     Python's str(); floats print with 4 decimals, or as integers with a
//     trailing '.' when every finite nonzero element is one (int mode), or
//     in scientific notation when max/min of the finite nonzero magnitudes
//     is over 1000, the max over 1e8 or the min under 1e-4 (sci mode);
//     every element is padded on the left to the widest one;
//   - a row breaks after as many elements as fit in 80 columns less the
//     indent; nested dimensions are joined with ",", as many newlines as
//     the dimensions below, and the indent;
//   - past 1000 elements, each dimension longer than 6 shows its first and
//     last 3 entries around "..." (" ..." in a row);
//   - suffixes: device (not CPU), size (empty tensors other than 1-D, meta),
//     dtype (other than the default float, int64 and bool; any dtype other
//     than the default float for an empty or meta tensor), layout,
//     grad_fn=<Name> or requires_grad=True; each wraps to a new line when it
//     would pass column 80.
// Not covered: torch.set_printoptions (the runtime always uses the
// defaults), nn.Parameter's "Parameter containing:" header, forward-AD
// tangents and the float4_e2m1fn_x2 dtype.
#include <ATen/ATen.h>
#include <c10/core/DefaultDtype.h>
#include <torch/csrc/autograd/function.h>

#include <cmath>
#include <cstdio>
#include <optional>

#include "lang.h"
#include "prims.h"
#include "types.h"

namespace torchkiln::detail {

namespace {

constexpr int kPrecision = 4;
constexpr int64_t kThreshold = 1000;
constexpr int64_t kEdgeItems = 3;
constexpr int64_t kLineWidth = 80;

// Python's `format(v, '.{precision}{conv}')` for conv 'e' or 'f'.
std::string fixed(double v, char conv, int precision) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char fmt[8] = {'%', '.', '*', conv, 0};
  char buf[512];
  std::snprintf(buf, sizeof(buf), fmt, precision, v);
  return buf;
}

std::string left_pad(std::string s, size_t width) { return s.size() >= width ? s : std::string(width - s.size(), ' ') + s; }

// _Formatter of _tensor_str.py: fitted to the shown elements of one
// (real-valued) tensor, then formats each of them to the common width.
struct Formatter {
  bool floating = false, int_mode = true, sci_mode = false;
  size_t max_width = 1;

  std::string format(double v) const {
    std::string out;
    if (sci_mode) out = fixed(v, 'e', kPrecision);
    else if (int_mode) out = fixed(v, 'f', 0) + (std::isfinite(v) ? "." : "");
    else out = fixed(v, 'f', kPrecision);
    return left_pad(out, max_width);
  }
};

Formatter float_formatter(const std::vector<double>& values) {
  Formatter f;
  f.floating = true;
  std::vector<double> shown;  // the finite nonzero ones decide the mode
  for (double v : values)
    if (std::isfinite(v) && v != 0) shown.push_back(v);
  if (shown.empty()) return f;
  double lo = INFINITY, hi = 0;
  for (double v : shown) {
    lo = std::min(lo, std::fabs(v));
    hi = std::max(hi, std::fabs(v));
    if (v != std::ceil(v)) f.int_mode = false;
  }
  f.sci_mode = hi / lo > 1000.0 || hi > 1.0e8 || lo < 1.0e-4;
  for (double v : shown) {
    size_t w = f.sci_mode ? fixed(v, 'e', kPrecision).size() : f.int_mode ? fixed(v, 'f', 0).size() + 1 : fixed(v, 'f', kPrecision).size();
    f.max_width = std::max(f.max_width, w);
  }
  return f;
}

// The elements shown: all, or (summarized) the first and last kEdgeItems
// of every dimension longer than 2 * kEdgeItems (get_summarized_data).
at::Tensor shown_part(at::Tensor t, bool summarize) {
  if (!summarize) return t;
  for (int64_t d = 0; d < t.dim(); ++d) {
    int64_t n = t.size(d);
    if (n <= 2 * kEdgeItems) continue;
    at::Tensor idx = at::cat({at::arange(kEdgeItems, at::kLong), at::arange(n - kEdgeItems, n, at::kLong)});
    t = t.index_select(d, idx);
  }
  return t;
}

// The shown elements as text, row-major, and the width of one element with
// its separator (what _vector_str divides the line by).
struct Cells {
  std::vector<std::string> text;
  size_t element_length = 0;
};

Cells cells_of(const at::Tensor& shown) {
  Cells c;
  at::ScalarType dtype = shown.scalar_type();
  int64_t n = shown.numel();
  c.text.reserve(size_t(n));
  if (at::isComplexType(dtype)) {
    at::Tensor z = shown.to(at::kComplexDouble).contiguous();
    std::vector<double> re(static_cast<size_t>(n)), im(static_cast<size_t>(n));
    const c10::complex<double>* p = z.const_data_ptr<c10::complex<double>>();
    for (int64_t i = 0; i < n; ++i) re[i] = p[i].real(), im[i] = p[i].imag();
    Formatter fr = float_formatter(re), fi = float_formatter(im);
    for (int64_t i = 0; i < n; ++i) {
      std::string imag = fi.format(im[i]) + "j";
      imag.erase(0, imag.find_first_not_of(' '));
      c.text.push_back(fr.format(re[i]) + (imag[0] == '+' || imag[0] == '-' ? "" : "+") + imag);
    }
    c.element_length = fr.max_width + 2 + fi.max_width + 1;
    return c;
  }
  if (at::isFloatingType(dtype)) {
    at::Tensor d = shown.to(at::kDouble).contiguous();
    std::vector<double> values(d.const_data_ptr<double>(), d.const_data_ptr<double>() + n);
    Formatter f = float_formatter(values);
    for (double v : values) c.text.push_back(f.format(v));
    c.element_length = f.max_width + 2;
    return c;
  }
  if (dtype == at::kBool) {
    at::Tensor b = shown.contiguous();
    for (int64_t i = 0; i < n; ++i) c.text.push_back(b.const_data_ptr<bool>()[i] ? "True" : "False");
  } else if (dtype == at::kUInt64) {
    at::Tensor u = shown.contiguous();
    for (int64_t i = 0; i < n; ++i) c.text.push_back(std::to_string(u.const_data_ptr<uint64_t>()[i]));
  } else {
    at::Tensor l = shown.to(at::kLong).contiguous();
    for (int64_t i = 0; i < n; ++i) c.text.push_back(std::to_string(l.const_data_ptr<int64_t>()[i]));
  }
  size_t width = 1;
  for (const auto& s : c.text) width = std::max(width, s.size());
  for (auto& s : c.text) s = left_pad(s, width);
  c.element_length = width + 2;
  return c;
}

// _tensor_str_with_formatter: dimension `d` of the shown elements from
// `offset`; `cut[d]`: that dimension is summarized.
std::string nested(const Cells& cells, const std::vector<int64_t>& sizes, const std::vector<bool>& cut, size_t d,
                   int64_t offset, int64_t indent) {
  if (sizes.empty()) return cells.text[0];
  int64_t stride = 1;
  for (size_t k = d + 1; k < sizes.size(); ++k) stride *= sizes[k];
  std::vector<std::string> items;
  bool row = d + 1 == sizes.size();
  for (int64_t i = 0; i < sizes[d]; ++i) {
    if (cut[d] && i == kEdgeItems) items.push_back(row ? " ..." : "...");
    items.push_back(row ? cells.text[offset + i] : nested(cells, sizes, cut, d + 1, offset + i * stride, indent + 1));
  }
  std::string out = "[";
  if (row) {
    double fit = std::floor(double(kLineWidth - indent) / double(cells.element_length));
    size_t per_line = size_t(std::max(1.0, fit));
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out += i % per_line == 0 ? ",\n" + std::string(size_t(indent + 1), ' ') : ", ";
      out += items[i];
    }
    return out + "]";
  }
  std::string sep = "," + std::string(sizes.size() - d - 1, '\n') + std::string(size_t(indent + 1), ' ');
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out + "]";
}

// _tensor_str: the bracketed elements of a strided tensor.
std::string elements(at::Tensor t, int64_t indent) {
  if (t.numel() == 0) return "[]";
  bool summarize = t.numel() > kThreshold;
  if (t._is_zerotensor()) t = t.clone();
  t = t.resolve_conj().resolve_neg();
  if (!t.device().is_cpu()) t = t.cpu();
  at::Tensor shown = shown_part(t, summarize);
  std::vector<bool> cut;
  for (int64_t d = 0; d < t.dim(); ++d) cut.push_back(summarize && t.size(d) > 2 * kEdgeItems);
  return nested(cells_of(shown), shown.sizes().vec(), cut, 0, 0, indent);
}

std::string shape_text(at::IntArrayRef sizes) {
  std::string out = "(";
  for (size_t i = 0; i < sizes.size(); ++i) out += (i ? ", " : "") + std::to_string(sizes[i]);
  return out + (sizes.size() == 1 ? ",)" : ")");
}

std::string dtype_text(at::ScalarType t) { return "torch." + dtype_name(t); }

// _add_suffixes: ", suffix" each, on a new line where it would pass the line width.
std::string with_suffixes(const std::string& text, const std::vector<std::string>& suffixes, int64_t indent, bool force_newline) {
  std::string out = text;
  size_t newline = text.rfind('\n');
  // Python: len(text) - text.rfind("\n") + 1, rfind giving -1 for none.
  int64_t last_line = int64_t(text.size()) - (newline == std::string::npos ? -1 : int64_t(newline)) + 1;
  for (const std::string& s : suffixes) {
    int64_t len = int64_t(s.size());
    if (force_newline || last_line + len + 2 > kLineWidth) {
      out += ",\n" + std::string(size_t(indent), ' ') + s;
      last_line = indent + len;
      force_newline = false;
    } else {
      out += ", " + s;
      last_line += len + 2;
    }
  }
  return out + ")";
}

// `name=tensor(...)` parts of a sparse tensor, with the size of an empty one.
std::string part(const std::string& name, const at::Tensor& t, int64_t indent) {
  std::string prefix = name + "=tensor(";
  std::string out = prefix + elements(t.detach(), indent + int64_t(prefix.size()));
  if (t.numel() == 0) out += ", size=" + shape_text(t.sizes());
  return out + ")";
}

std::optional<std::string> grad_fn_name(const at::Tensor& t) {
  try {
    const auto& fn = t.grad_fn();
    if (fn == nullptr) return std::nullopt;
    std::string name = fn->name();
    size_t colons = name.rfind("::");
    return colons == std::string::npos ? name : name.substr(colons + 2);
  } catch (const c10::Error&) {
    return std::string("Invalid");  // a no-grad view modified in place under no_grad (pytorch#99968)
  }
}

}  // namespace

std::string tensor_repr(const at::Tensor& input) {
  if (!input.defined()) return "None";
  at::NoGradGuard no_grad;
  const at::Tensor& self = input;
  const std::string prefix = "tensor(";
  const int64_t indent = int64_t(prefix.size());
  std::vector<std::string> suffixes;
  std::string body;
  bool force_newline = false;
  if (!self.device().is_cpu()) suffixes.push_back("device='" + self.device().str() + "'");
  at::ScalarType dtype = self.scalar_type(), default_dtype = c10::get_default_dtype_as_scalartype();
  at::ScalarType default_complex = default_dtype == at::kDouble ? at::kComplexDouble : at::kComplexFloat;
  bool has_default_dtype = dtype == default_dtype || dtype == default_complex || dtype == at::kLong || dtype == at::kBool;
  at::Layout layout = self.layout();
  if (self.is_meta()) {
    suffixes.push_back("size=" + shape_text(self.sizes()));
    if (dtype != default_dtype) suffixes.push_back("dtype=" + dtype_text(dtype));
    body = "...";
  } else if (layout == at::kSparse) {
    suffixes.push_back("size=" + shape_text(self.sizes()));
    suffixes.push_back("nnz=" + std::to_string(self._nnz()));
    if (!has_default_dtype) suffixes.push_back("dtype=" + dtype_text(dtype));
    body = part("indices", self._indices(), indent) + ",\n" + std::string(size_t(indent), ' ') + part("values", self._values(), indent);
    force_newline = true;
  } else if (layout == at::kSparseCsr || layout == at::kSparseCsc || layout == at::kSparseBsr || layout == at::kSparseBsc) {
    suffixes.push_back("size=" + shape_text(self.sizes()));
    suffixes.push_back("nnz=" + std::to_string(self._nnz()));
    if (!has_default_dtype) suffixes.push_back("dtype=" + dtype_text(dtype));
    bool rows = layout == at::kSparseCsr || layout == at::kSparseBsr;
    at::Tensor compressed = rows ? self.crow_indices() : self.ccol_indices();
    at::Tensor plain = rows ? self.col_indices() : self.row_indices();
    std::string pad = ",\n" + std::string(size_t(indent), ' ');
    body = part(rows ? "crow_indices" : "ccol_indices", compressed, indent) + pad + part(rows ? "col_indices" : "row_indices", plain, indent) +
           pad + part("values", self.values(), indent);
  } else if (self.is_quantized()) {
    suffixes.push_back("size=" + shape_text(self.sizes()));
    if (!has_default_dtype) suffixes.push_back("dtype=" + dtype_text(dtype));
    at::QScheme scheme = self.qscheme();
    suffixes.push_back(std::string("quantization_scheme=torch.") + c10::toString(scheme));
    if (scheme == at::kPerTensorAffine || scheme == at::kPerTensorSymmetric) {
      suffixes.push_back("scale=" + python_repr(c10::IValue(self.q_scale())));
      suffixes.push_back("zero_point=" + std::to_string(self.q_zero_point()));
    } else {
      suffixes.push_back("scale=" + tensor_repr(self.q_per_channel_scales()));
      suffixes.push_back("zero_point=" + tensor_repr(self.q_per_channel_zero_points()));
      suffixes.push_back("axis=" + std::to_string(self.q_per_channel_axis()));
    }
    body = elements(self.dequantize(), indent);
  } else if (self.numel() == 0) {
    if (self.dim() != 1) suffixes.push_back("size=" + shape_text(self.sizes()));
    if (dtype != default_dtype) suffixes.push_back("dtype=" + dtype_text(dtype));
    body = "[]";
  } else {
    if (!has_default_dtype) suffixes.push_back("dtype=" + dtype_text(dtype));
    body = elements(layout == at::kStrided ? self : self.to_dense(), indent);
  }
  if (layout != at::kStrided) suffixes.push_back("layout=" + python_repr(c10::IValue(int64_t(layout)), c10::LayoutType::get()));
  if (auto name = grad_fn_name(input)) suffixes.push_back("grad_fn=<" + *name + ">");
  else if (input.requires_grad()) suffixes.push_back("requires_grad=True");
  return with_suffixes(prefix + body, suffixes, indent, force_newline);
}

}  // namespace torchkiln::detail
