// The list and dict prim ops of torchkiln/ops/lang.py (and the builtins
// over lists: sum, min, max, sorted, range), with Python semantics.
#include <ATen/core/Dict.h>
#include <ATen/core/List.h>

#include <algorithm>

#include "error.h"
#include "lang.h"
#include "prims.h"

namespace torchkiln::detail {

namespace {

using torch::jit::pop;
using torch::jit::push;

int64_t int_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) int_overflow();
  return r;
}

// ---------------------------------------------------- builtins over lists

void sum_int(Stack& s) {
  int64_t total = 0;
  c10::IValue list = pop(s);
  for (const c10::IValue& v : list.toListRef()) total = int_add(total, v.toInt());
  push(s, total);
}
void sum_float(Stack& s) {
  double total = 0;
  c10::IValue list = pop(s);
  for (const c10::IValue& v : list.toListRef()) total += v.toDouble();
  push(s, total);
}
void any(Stack& s) {
  bool r = false;
  c10::IValue list = pop(s);
  for (const c10::IValue& v : list.toListRef()) r = r || v.toBool();
  push(s, r);
}
void all(Stack& s) {
  bool r = true;
  c10::IValue list = pop(s);
  for (const c10::IValue& v : list.toListRef()) r = r && v.toBool();
  push(s, r);
}
template <bool Min>
void min_max_list(Stack& s) {
  c10::IValue l = pop(s);
  auto items = l.toListRef();
  if (items.empty()) raise_python("ValueError", Min ? "min() arg is an empty sequence" : "max() arg is an empty sequence");
  const c10::IValue* best = &items[0];
  for (size_t i = 1; i < items.size(); ++i)
    if (py_compare(items[i], *best, Min ? CompareOp::Lt : CompareOp::Gt)) best = &items[i];
  push(s, *best);
}

void sort_items(std::vector<c10::IValue>& items, bool reverse) {
  std::stable_sort(items.begin(), items.end(),
                   [reverse](const c10::IValue& a, const c10::IValue& b) { return reverse ? py_lt(b, a) : py_lt(a, b); });
}

c10::impl::GenericList make_list(const TypePtr& elem, std::vector<c10::IValue>&& items) {
  c10::impl::GenericList out(elem);
  out.reserve(items.size());
  for (auto& v : items) out.push_back(std::move(v));
  return out;
}

void sorted(Stack& s) {
  bool reverse = pop(s).toBool();
  auto list = pop(s).toList();
  std::vector<c10::IValue> items(list.begin(), list.end());
  sort_items(items, reverse);
  push(s, make_list(list.elementType(), std::move(items)));
}

// The positions of the keys in sorted order, stable: Python's sorted(range(n), key=keys.__getitem__,
// reverse=reverse), which keeps equal keys in their order in both directions.
void argsort_list(Stack& s) {
  bool reverse = pop(s).toBool();
  auto keys = pop(s).toList();
  std::vector<c10::IValue> items(keys.begin(), keys.end());
  std::vector<int64_t> order(items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = int64_t(i);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return reverse ? py_lt(items[size_t(b)], items[size_t(a)]) : py_lt(items[size_t(a)], items[size_t(b)]);
  });
  push(s, c10::List<int64_t>(order));
}

int64_t range_len(int64_t start, int64_t stop, int64_t step) {
  if (step == 0) raise_python("ValueError", "range() arg 3 must not be zero");
  __int128 a = start, b = stop, st = step, n = 0;
  if (st > 0 && a < b) n = (b - a - 1) / st + 1;
  if (st < 0 && a > b) n = (a - b - 1) / (-st) + 1;
  return int64_t(n);
}
void range_length(Stack& s) {
  int64_t step = pop(s).toInt(), stop = pop(s).toInt(), start = pop(s).toInt();
  push(s, range_len(start, stop, step));
}
void range_list(Stack& s) {
  int64_t step = pop(s).toInt(), stop = pop(s).toInt(), start = pop(s).toInt();
  int64_t n = range_len(start, stop, step);
  c10::List<int64_t> out;
  out.reserve(size_t(n));
  for (int64_t i = 0; i < n; ++i) out.push_back(start + i * step);
  push(s, std::move(out));
}

std::string int_list_text(c10::ArrayRef<int64_t> l) {
  std::string out = "[";
  for (size_t i = 0; i < l.size(); ++i) out += (i ? ", " : "") + std::to_string(l[i]);
  return out + "]";
}

// torch.broadcast_shapes (torch._refs._broadcast_shapes), with its errors.
void broadcast_shapes(Stack& s) {
  auto shapes = pop(s).toList();
  size_t rank = 0;
  for (size_t i = 0; i < shapes.size(); ++i) rank = std::max(rank, shapes.get(i).toListRef().size());
  std::vector<int64_t> common(rank, 1);
  for (size_t arg = 0; arg < shapes.size(); ++arg) {
    c10::List<int64_t> shape = shapes.get(arg).toIntList();
    const int64_t n = int64_t(shape.size());
    for (int64_t idx = -1; idx >= -n; --idx) {
      int64_t dim = shape.get(size_t(n + idx));
      int64_t& c = common[size_t(int64_t(rank) + idx)];
      if (dim == c) continue;
      if (c == 1) {
        if (dim < 0) raise_python("ValueError", "Attempting to broadcast a dimension with negative length!");
        c = dim;
      }
      if (dim == 1) continue;
      if (c != dim) {
        raise_python("RuntimeError", "Attempting to broadcast a dimension of length " + std::to_string(dim) + " at " +
                                         std::to_string(idx) + "! Mismatching argument at index " + std::to_string(arg) +
                                         " had " + int_list_text(shape.vec()) + "; but expected shape should be broadcastable to " +
                                         int_list_text(common));
      }
    }
  }
  push(s, c10::List<int64_t>(common));
}

// --------------------------------------------------------------- lists

void len_list(Stack& s) { push(s, int64_t(pop(s).toList().size())); }
void getitem_list(Stack& s) {
  int64_t i = pop(s).toInt();
  auto list = pop(s).toList();
  push(s, list.get(normalize_index(i, int64_t(list.size()), "list index out of range")));
}
void contains_list(Stack& s) {
  c10::IValue el = pop(s);
  bool found = false;
  c10::IValue list = pop(s);
  for (const c10::IValue& v : list.toListRef())
    if (v.is(el) || py_eq(v, el)) {
      found = true;
      break;
    }
  push(s, found);
}
void add_list(Stack& s) {
  auto b = pop(s).toList(), a = pop(s).toList();
  c10::impl::GenericList out(a.elementType());
  out.reserve(a.size() + b.size());
  for (const c10::IValue& v : a) out.push_back(v);
  for (const c10::IValue& v : b) out.push_back(v);
  push(s, std::move(out));
}
void mul_list(Stack& s) {
  int64_t n = pop(s).toInt();
  auto a = pop(s).toList();
  c10::impl::GenericList out(a.elementType());
  if (n > 0 && !a.empty()) {
    int64_t total;
    if (__builtin_mul_overflow(int64_t(a.size()), n, &total)) raise_python("MemoryError", "list too large");
    out.reserve(size_t(total));
    for (int64_t k = 0; k < n; ++k)
      for (size_t i = 0; i < a.size(); ++i) out.push_back(a.get(i));
  }
  push(s, std::move(out));
}
void copy_list(Stack& s) { push(s, pop(s).toList().copy()); }
void index_list(Stack& s) {
  c10::IValue el = pop(s);
  c10::IValue list = pop(s);
  auto items = list.toListRef();
  for (size_t i = 0; i < items.size(); ++i)
    if (items[i].is(el) || py_eq(items[i], el)) return push(s, int64_t(i));
  raise_python("ValueError", python_repr(el) + " is not in list");
}
void count_list(Stack& s) {
  c10::IValue el = pop(s);
  int64_t n = 0;
  c10::IValue list = pop(s);
  for (const c10::IValue& v : list.toListRef()) n += (v.is(el) || py_eq(v, el)) ? 1 : 0;
  push(s, n);
}
void slice_list(Stack& s) {
  c10::IValue step = pop(s), stop = pop(s), start = pop(s);
  auto list = pop(s).toList();
  SliceRange r = slice_range(int64_t(list.size()), start, stop, step);
  c10::impl::GenericList out(list.elementType());
  out.reserve(size_t(r.length));
  for (int64_t k = 0; k < r.length; ++k) out.push_back(list.get(size_t(r.start + k * r.step)));
  push(s, std::move(out));
}
void setitem_list(Stack& s) {
  c10::IValue el = pop(s);
  int64_t i = pop(s).toInt();
  auto list = pop(s).toList();
  list.set(normalize_index(i, int64_t(list.size()), "list assignment index out of range"), std::move(el));
}
void delitem_list(Stack& s) {
  int64_t i = pop(s).toInt();
  auto list = pop(s).toList();
  list.erase(list.begin() + normalize_index(i, int64_t(list.size()), "list assignment index out of range"));
}
void append_list(Stack& s) {
  c10::IValue el = pop(s);
  pop(s).toList().push_back(std::move(el));
}
void extend_list(Stack& s) {
  auto other = pop(s).toList();
  auto list = pop(s).toList();
  std::vector<c10::IValue> items(other.begin(), other.end());  // list.extend(list) reads a copy
  for (auto& v : items) list.push_back(std::move(v));
}
void insert_list(Stack& s) {
  c10::IValue el = pop(s);
  int64_t i = pop(s).toInt();
  auto list = pop(s).toList();
  int64_t n = int64_t(list.size());
  if (i < 0) i = std::max<int64_t>(i + n, 0);
  if (i > n) i = n;
  list.insert(list.begin() + i, std::move(el));
}
void pop_list(Stack& s) {
  int64_t i = pop(s).toInt();
  auto list = pop(s).toList();
  if (list.empty()) raise_python("IndexError", "pop from empty list");
  int64_t k = normalize_index(i, int64_t(list.size()), "pop index out of range");
  c10::IValue v = list.get(size_t(k));
  list.erase(list.begin() + k);
  push(s, std::move(v));
}
void remove_list(Stack& s) {
  c10::IValue el = pop(s);
  auto list = pop(s).toList();
  for (size_t i = 0; i < list.size(); ++i)
    if (list.get(i).is(el) || py_eq(list.get(i), el)) {
      list.erase(list.begin() + int64_t(i));
      return;
    }
  raise_python("ValueError", "list.remove(x): x not in list");
}
void clear_list(Stack& s) { pop(s).toList().clear(); }
void reverse_list(Stack& s) {
  auto list = pop(s).toList();
  std::vector<c10::IValue> items(list.begin(), list.end());
  for (size_t i = 0; i < items.size(); ++i) list.set(i, std::move(items[items.size() - 1 - i]));
}
void sort_list(Stack& s) {
  bool reverse = pop(s).toBool();
  auto list = pop(s).toList();
  std::vector<c10::IValue> items(list.begin(), list.end());
  sort_items(items, reverse);
  for (size_t i = 0; i < items.size(); ++i) list.set(i, std::move(items[i]));
}

// --------------------------------------------------------------- dicts

[[noreturn]] void key_error(const c10::IValue& key) { raise_python("KeyError", python_repr(key)); }

void len_dict(Stack& s) { push(s, int64_t(pop(s).toGenericDict().size())); }
void getitem_dict(Stack& s) {
  c10::IValue key = pop(s);
  auto dict = pop(s).toGenericDict();
  auto it = dict.find(key);
  if (it == dict.end()) key_error(key);
  push(s, it->value());
}
void contains_dict(Stack& s) {
  c10::IValue key = pop(s);
  push(s, pop(s).toGenericDict().contains(key));
}
void keys(Stack& s) {
  auto dict = pop(s).toGenericDict();
  c10::impl::GenericList out(dict.keyType());
  out.reserve(dict.size());
  for (const auto& e : dict) out.push_back(e.key());
  push(s, std::move(out));
}
void values(Stack& s) {
  auto dict = pop(s).toGenericDict();
  c10::impl::GenericList out(dict.valueType());
  out.reserve(dict.size());
  for (const auto& e : dict) out.push_back(e.value());
  push(s, std::move(out));
}
void items(Stack& s) {
  auto dict = pop(s).toGenericDict();
  c10::impl::GenericList out(c10::TupleType::create({dict.keyType(), dict.valueType()}));
  out.reserve(dict.size());
  for (const auto& e : dict) out.push_back(c10::ivalue::Tuple::create(e.key(), e.value()));
  push(s, std::move(out));
}
void get_dict(Stack& s) {
  c10::IValue key = pop(s);
  auto dict = pop(s).toGenericDict();
  auto it = dict.find(key);
  push(s, it == dict.end() ? c10::IValue() : it->value());
}
void get_default(Stack& s) {
  c10::IValue dflt = pop(s), key = pop(s);
  auto dict = pop(s).toGenericDict();
  auto it = dict.find(key);
  push(s, it == dict.end() ? std::move(dflt) : it->value());
}
void copy_dict(Stack& s) { push(s, pop(s).toGenericDict().copy()); }
void setdefault(Stack& s) {
  c10::IValue dflt = pop(s), key = pop(s);
  auto dict = pop(s).toGenericDict();
  auto it = dict.find(key);
  if (it != dict.end()) return push(s, it->value());
  dict.insert(key, dflt);
  push(s, std::move(dflt));
}
void update(Stack& s) {
  auto other = pop(s).toGenericDict();
  auto dict = pop(s).toGenericDict();
  std::vector<std::pair<c10::IValue, c10::IValue>> entries;
  for (const auto& e : other) entries.emplace_back(e.key(), e.value());
  for (auto& [k, v] : entries) dict.insert_or_assign(std::move(k), std::move(v));
}
void pop_dict(Stack& s) {
  c10::IValue key = pop(s);
  auto dict = pop(s).toGenericDict();
  auto it = dict.find(key);
  if (it == dict.end()) key_error(key);
  c10::IValue v = it->value();
  (void)dict.erase(key);
  push(s, std::move(v));
}
void pop_dict_default(Stack& s) {
  c10::IValue dflt = pop(s), key = pop(s);
  auto dict = pop(s).toGenericDict();
  auto it = dict.find(key);
  if (it == dict.end()) return push(s, std::move(dflt));
  c10::IValue v = it->value();
  (void)dict.erase(key);
  push(s, std::move(v));
}
void clear_dict(Stack& s) { pop(s).toGenericDict().clear(); }
// dict.popitem(): the last inserted item, as two outputs (key, value).
void popitem(Stack& s) {
  auto dict = pop(s).toGenericDict();
  if (dict.empty()) raise_python("KeyError", "'popitem(): dictionary is empty'");
  auto last = dict.begin();
  for (auto it = dict.begin(); it != dict.end(); ++it) last = it;
  c10::IValue key = last->key(), value = last->value();
  (void)dict.erase(key);
  push(s, std::move(key));
  push(s, std::move(value));
}
// dict(zip(keys, values)): as long as the shorter list; a repeated key keeps its last value.
void dict_zip(Stack& s) {
  auto values = pop(s).toList();
  auto keys = pop(s).toList();
  c10::impl::GenericDict dict(keys.elementType(), values.elementType());
  size_t n = std::min(keys.size(), values.size());
  dict.reserve(n);
  for (size_t i = 0; i < n; ++i) dict.insert_or_assign(keys.get(i), values.get(i));
  push(s, std::move(dict));
}
void setitem_dict(Stack& s) {
  c10::IValue value = pop(s), key = pop(s);
  pop(s).toGenericDict().insert_or_assign(std::move(key), std::move(value));
}
void delitem_dict(Stack& s) {
  c10::IValue key = pop(s);
  auto dict = pop(s).toGenericDict();
  if (!dict.erase(key)) key_error(key);
}

}  // namespace

void add_container_prims(std::vector<PrimDef>& t) {
  t.insert(t.end(), {
      {"prim::sum.int(int[] l) -> int", plain<sum_int>},
      {"prim::sum.float(float[] l) -> float", plain<sum_float>},
      {"prim::any(bool[] l) -> bool", plain<any>},
      {"prim::all(bool[] l) -> bool", plain<all>},
      {"prim::min.list(t[] l) -> t", plain<min_max_list<true>>},
      {"prim::max.list(t[] l) -> t", plain<min_max_list<false>>},
      {"prim::sorted(t[] l, bool reverse) -> t[]", plain<sorted>},
      {"prim::argsort.list(t[] keys, bool reverse) -> int[]", plain<argsort_list>},
      {"prim::range_length(int start, int stop, int step) -> int", plain<range_length>},
      {"prim::range_list(int start, int stop, int step) -> int[]", plain<range_list>},
      {"prim::broadcast_shapes(int[][] shapes) -> int[]", plain<broadcast_shapes>},
      {"prim::len.list(t[] l) -> int", plain<len_list>},
      {"prim::getitem.list(t[] l, int index) -> t", plain<getitem_list>},
      {"prim::contains.list(t[] l, t el) -> bool", plain<contains_list>},
      {"prim::add.list(t[] a, t[] b) -> t[]", plain<add_list>},
      {"prim::mul.list(t[] l, int n) -> t[]", plain<mul_list>},
      {"prim::list.list(t[] l) -> t[]", plain<copy_list>},
      {"prim::copy.list(t[] l) -> t[]", plain<copy_list>},
      {"prim::index.list(t[] l, t el) -> int", plain<index_list>},
      {"prim::count.list(t[] l, t el) -> int", plain<count_list>},
      {"prim::slice.list(t[] l, int? start, int? stop, int? step) -> t[]", plain<slice_list>},
      {"prim::setitem.list(t[](a!) l, int index, t el) -> ()", plain<setitem_list>},
      {"prim::delitem.list(t[](a!) l, int index) -> ()", plain<delitem_list>},
      {"prim::append.list(t[](a!) self, t el) -> ()", plain<append_list>},
      {"prim::extend.list(t[](a!) self, t[] other) -> ()", plain<extend_list>},
      {"prim::insert.list(t[](a!) self, int index, t el) -> ()", plain<insert_list>},
      {"prim::pop.list(t[](a!) self, int index) -> t", plain<pop_list>},
      {"prim::remove.list(t[](a!) self, t el) -> ()", plain<remove_list>},
      {"prim::clear.list(t[](a!) self) -> ()", plain<clear_list>},
      {"prim::reverse.list(t[](a!) self) -> ()", plain<reverse_list>},
      {"prim::sort.list(t[](a!) self, bool reverse) -> ()", plain<sort_list>},
      {"prim::len.dict(Dict(k, v) self) -> int", plain<len_dict>},
      {"prim::getitem.dict(Dict(k, v) self, k key) -> v", plain<getitem_dict>},
      {"prim::contains.dict(Dict(k, v) self, k key) -> bool", plain<contains_dict>},
      {"prim::keys(Dict(k, v) self) -> k[]", plain<keys>},
      {"prim::values(Dict(k, v) self) -> v[]", plain<values>},
      {"prim::items(Dict(k, v) self) -> (k, v)[]", plain<items>},
      {"prim::get.dict(Dict(k, v) self, k key) -> v?", plain<get_dict>},
      {"prim::get.default(Dict(k, v) self, k key, v default) -> v", plain<get_default>},
      {"prim::copy.dict(Dict(k, v) self) -> Dict(k, v)", plain<copy_dict>},
      {"prim::setdefault(Dict(k, v)(a!) self, k key, v default) -> v", plain<setdefault>},
      {"prim::update(Dict(k, v)(a!) self, Dict(k, v) other) -> ()", plain<update>},
      {"prim::pop.dict(Dict(k, v)(a!) self, k key) -> v", plain<pop_dict>},
      {"prim::pop.dict_default(Dict(k, v)(a!) self, k key, v default) -> v", plain<pop_dict_default>},
      {"prim::clear.dict(Dict(k, v)(a!) self) -> ()", plain<clear_dict>},
      {"prim::popitem(Dict(k, v)(a!) self) -> (k, v)", plain<popitem>},
      {"prim::dict_zip(k[] keys, v[] values) -> Dict(k, v)", plain<dict_zip>},
      {"prim::setitem.dict(Dict(k, v)(a!) self, k key, v value) -> ()", plain<setitem_dict>},
      {"prim::delitem.dict(Dict(k, v)(a!) self, k key) -> ()", plain<delitem_dict>},
  });
}

}  // namespace torchkiln::detail
