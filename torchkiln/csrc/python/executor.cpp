// torchkiln._C: the C++ runtime as an executor for Python (torchkiln/cpp_executor.py).
//
// Note [C++ executor call path]
// -----------------------------
// `cpp_executor.CppExecutor.compile` gives each method a `MethodCall` and
// each free function a `FunctionCall`; api.py calls them with positional
// arguments (a method: the ScriptModule first). A method call
//
//   1. finds the module's `State` in its instance dict (`_kiln_cpp`, one
//      dict lookup); a missing or stale state (Note [State epoch]) goes
//      through Python (`cpp_executor._prepare`), which builds or refreshes
//      it, or answers with a Python-executor callable when the program
//      cannot run in C++;
//   2. converts the arguments (Tensor fast, the rest with torch's toIValue
//      against the method's declared types);
//   3. runs `torchkiln::Module::run_method` with the GIL released;
//   4. converts the result (Tensor fast, the rest with toPyObject, then an
//      optional Python post-conversion for NamedTuples and dtypes), and
//      runs the optional sync-back of attributes the program assigns.
//
// Errors: torchkiln::ArgumentError -> torchkiln.ArgumentError (a TypeError),
// ProgramError -> the exception class it names (cpp_executor._make_error),
// other torchkiln::Error -> torchkiln.Error.
//
// Note [State epoch]
// ------------------
// A global counter, bumped (`bump_epoch`) whenever a ScriptModule's state is
// replaced (assignment, `_apply`/`to`, `train`/`eval`, registering); each
// State remembers the epoch it was synchronized at. A call that sees another
// epoch goes to Python, which re-points the C++ object's slots at the Python
// module's current values (or rebuilds the program when the module tree's
// shape changed). In-place updates of tensors need nothing: the C++ object
// holds the very same tensors.
#include <Python.h>
#include <structmember.h>
#include <torch/csrc/Exceptions.h>
#include <torch/csrc/autograd/python_variable.h>
#include <torch/csrc/jit/python/pybind_utils.h>
#include <torch/csrc/utils/pybind.h>

#include <torchkiln/module.h>

#include "fastpath.h"  // t_reused_buffers

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace py = pybind11;

namespace torchkiln::python {
namespace {

std::atomic<uint64_t> g_epoch{1};

// Python helpers from torchkiln.cpp_executor, set once by `_init`.
struct Helpers {
  py::object prepare;     // prepare(module) -> State | None
  py::object fallback;    // fallback(module, function) -> callable (Python executor)
  py::object make_error;  // make_error(kind, cls, message, traceback) -> exception instance
};
Helpers* g_helpers = nullptr;

Helpers& helpers() {
  if (g_helpers == nullptr) throw std::runtime_error("torchkiln._C is not initialized (import torchkiln.cpp_executor)");
  return *g_helpers;
}

PyObject* g_state_key = nullptr;  // interned "_kiln_cpp"

// ----------------------------------------------------------------- errors

[[noreturn]] void raise_error(const char* kind, const std::string& cls, const std::string& message,
                              const std::string& traceback) {
  py::object exc = helpers().make_error(kind, cls, message, traceback);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
  throw py::error_already_set();
}

// Runs `f`; turns torchkiln errors into Python exceptions (GIL held here).
template <typename F>
auto translating(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const torchkiln::ArgumentError& e) {
    raise_error("argument", "", e.what(), "");
  } catch (const torchkiln::ProgramError& e) {
    raise_error("program", e.python_class(), e.message(), e.traceback());
  } catch (const torchkiln::Error& e) {
    raise_error("error", "", e.what(), "");
  }
}

// --------------------------------------------------------------- methods

struct MethodInfo {
  std::string name;
  std::vector<c10::TypePtr> types;  // arguments, self excluded
  std::vector<std::string> arg_names;
  size_t required = 0;              // arguments without defaults
  py::object post;                  // None, or post(value) -> value
};

MethodInfo method_info(const torchkiln::Module& module, const std::string& name, py::object post) {
  MethodInfo info;
  info.name = name;
  for (const torchkiln::Argument& a : module.arguments(name)) {
    info.types.push_back(a.type);
    info.arg_names.push_back(a.name);
    if (!a.default_value) info.required = info.types.size();
  }
  info.post = std::move(post);
  return info;
}

// Python arguments args[0:n] as IValues for `info`.
std::vector<c10::IValue> convert_args(const MethodInfo& info, PyObject* const* args, Py_ssize_t n) {
  std::vector<c10::IValue> out;
  if (size_t(n) > info.types.size() || size_t(n) < info.required) {
    raise_error("argument", "",
                info.name + "() takes " + std::to_string(info.types.size()) + " argument(s) but " + std::to_string(n) +
                    " were given",
                "");
  }
  out.reserve(size_t(n));
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* a = args[i];
    const c10::TypePtr& t = info.types[size_t(i)];
    if (t->kind() == c10::TypeKind::TensorType && THPVariable_Check(a)) {
      out.emplace_back(THPVariable_Unpack(a));
      continue;
    }
    try {
      out.push_back(torch::jit::toIValue(py::handle(a), t));
    } catch (py::error_already_set& e) {
      std::string what = e.what();
      raise_error("argument", "",
                  info.name + "() argument '" + info.arg_names[size_t(i)] + "' (position " + std::to_string(i + 1) +
                      ") must be " + t->annotation_str() + ": " + what,
                  "");
    } catch (const std::exception& e) {
      raise_error("argument", "",
                  info.name + "() argument '" + info.arg_names[size_t(i)] + "' (position " + std::to_string(i + 1) +
                      ") must be " + t->annotation_str() + ", not " + Py_TYPE(a)->tp_name,
                  "");
    }
  }
  return out;
}

py::object to_python(c10::IValue value, const MethodInfo& info) {
  if (value.isTensor()) return py::reinterpret_steal<py::object>(THPVariable_Wrap(std::move(value).toTensor()));
  py::object out = torch::jit::toPyObject(std::move(value));
  if (!info.post.is_none()) out = info.post(out);
  return out;
}

c10::IValue run(const torchkiln::Module& module, const std::string& name, std::vector<c10::IValue> inputs) {
  // As TorchScript's HANDLE_TH_ERRORS: warnings the program raises (TORCH_WARN: prim::warn, ops'
  // deprecation warnings) are buffered and issued as Python warnings (filters, catch_warnings) on return.
  c10::IValue out;
  try {
    torch::PyWarningHandler warnings;
    try {
      out = translating([&] {
        py::gil_scoped_release nogil;
        return module.run_method(name, std::move(inputs));
      });
    } catch (...) {
      warnings.set_in_exception();
      throw;
    }
  } catch (python_error& e) {  // a warning filter turned a warning into an error
    e.restore();
    throw py::error_already_set();
  }
  return out;
}

// ----------------------------------------------------------------- state

// The C++ program of one Python ScriptModule (or of a free function).
struct State {
  torchkiln::Module module;
  c10::IValue root;                 // the root object (None for a function)
  std::vector<MethodInfo> methods;  // in the Python class type's method order
  uint64_t epoch = 0;
  py::object sync;                  // None, or sync(module) after each call

  const MethodInfo* find(size_t index, const std::string& name) const {
    if (index < methods.size() && methods[index].name == name) return &methods[index];
    for (const MethodInfo& m : methods)
      if (m.name == name) return &m;
    return nullptr;
  }
};

py::object call_state(State& state, const MethodInfo& info, PyObject* self, PyObject* const* args, Py_ssize_t n) {
  std::vector<c10::IValue> inputs = convert_args(info, args, n);
  torchkiln::Module module = state.module;  // keeps the program alive while the GIL is released
  if (state.sync.is_none()) return to_python(run(module, info.name, std::move(inputs)), info);
  py::object sync = state.sync;
  c10::IValue out;
  try {
    out = run(module, info.name, std::move(inputs));
  } catch (py::error_already_set&) {
    py::error_scope keep;  // the program's exception stays the one raised
    try {
      sync(py::handle(self));
    } catch (py::error_already_set&) {
    }
    throw;
  }
  sync(py::handle(self));
  return to_python(std::move(out), info);
}

// ------------------------------------------------------------ call objects

// What a `Call` object runs: a method of whatever module comes first
// (`MethodCall`), or one method of a fixed program (`FunctionCall`).
struct Callee {
  std::string name;
  size_t index = 0;
  py::object function;           // method: the IR Function, for the Python fallback
  std::shared_ptr<State> state;  // function: its program
};

// A CPython object with vectorcall: the thinnest call from Python.
struct CallObject {
  PyObject_HEAD
  vectorcallfunc vectorcall;
  Callee* callee;
};

PyTypeObject* g_call_type = nullptr;
PyTypeObject* g_state_type = nullptr;

// The State a `_kiln_cpp` entry holds (exactly a State: the type is final).
State* state_of(PyObject* obj) {
  auto* inst = reinterpret_cast<py::detail::instance*>(obj);
  return static_cast<State*>(inst->get_value_and_holder().value_ptr());
}

py::object call_method(Callee& c, PyObject* const* args, Py_ssize_t n) {
  if (n < 1) throw py::type_error(c.name + "() needs the module as its first argument");
  PyObject* self = args[0];
  PyObject** dict = _PyObject_GetDictPtr(self);
  PyObject* found = dict != nullptr && *dict != nullptr ? PyDict_GetItemWithError(*dict, g_state_key) : nullptr;
  if (found == nullptr && PyErr_Occurred()) throw py::error_already_set();
  py::object holder;  // keeps a state made by prepare() alive during the call
  State* state = nullptr;
  if (found != nullptr && Py_TYPE(found) == g_state_type) {
    state = state_of(found);
    if (state->epoch != g_epoch.load(std::memory_order_relaxed)) state = nullptr;
    else holder = py::reinterpret_borrow<py::object>(found);  // the dict entry may be replaced during the call
  }
  if (state == nullptr) {
    holder = helpers().prepare(py::handle(self));
    if (!holder.is_none()) state = holder.cast<State*>();
  }
  const MethodInfo* info = state != nullptr ? state->find(c.index, c.name) : nullptr;
  if (info == nullptr) {
    py::object fn = helpers().fallback(py::handle(self), c.function);
    PyObject* out = PyObject_Vectorcall(fn.ptr(), args, size_t(n), nullptr);
    if (out == nullptr) throw py::error_already_set();
    return py::reinterpret_steal<py::object>(out);
  }
  return call_state(*state, *info, self, args + 1, n - 1);
}

PyObject* call_vectorcall(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
  Callee& c = *reinterpret_cast<CallObject*>(self)->callee;
  Py_ssize_t n = PyVectorcall_NARGS(nargsf);
  if (kwnames != nullptr && PyTuple_GET_SIZE(kwnames) != 0) {
    PyErr_Format(PyExc_TypeError, "%s() takes positional arguments only here", c.name.c_str());
    return nullptr;
  }
  try {
    if (c.state != nullptr) return call_state(*c.state, c.state->methods[c.index], nullptr, args, n).release().ptr();
    return call_method(c, args, n).release().ptr();
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (py::builtin_exception& e) {
    e.set_error();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  }
  return nullptr;
}

void call_dealloc(PyObject* self) {
  auto* o = reinterpret_cast<CallObject*>(self);
  delete o->callee;
  PyTypeObject* tp = Py_TYPE(self);
  tp->tp_free(self);
  Py_DECREF(tp);
}

PyObject* call_get_name(PyObject* self, void*) {
  const Callee& c = *reinterpret_cast<CallObject*>(self)->callee;
  return PyUnicode_FromStringAndSize(c.name.data(), Py_ssize_t(c.name.size()));
}

PyObject* call_get_state(PyObject* self, void*) {
  const Callee& c = *reinterpret_cast<CallObject*>(self)->callee;
  if (c.state == nullptr) Py_RETURN_NONE;
  try {
    return py::cast(c.state).release().ptr();
  } catch (py::error_already_set& e) {
    e.restore();
    return nullptr;
  }
}

PyTypeObject* make_call_type() {
  static PyMemberDef members[] = {
      {"__vectorcalloffset__", T_PYSSIZET, offsetof(CallObject, vectorcall), READONLY, nullptr},
      {nullptr, 0, 0, 0, nullptr},
  };
  static PyGetSetDef getset[] = {
      {"name", call_get_name, nullptr, "the method or function name", nullptr},
      {"state", call_get_state, nullptr, "a function's State (None for a method)", nullptr},
      {nullptr, nullptr, nullptr, nullptr, nullptr},
  };
  static PyType_Slot slots[] = {
      {Py_tp_dealloc, reinterpret_cast<void*>(call_dealloc)},
      {Py_tp_call, reinterpret_cast<void*>(PyVectorcall_Call)},
      {Py_tp_members, members},
      {Py_tp_getset, getset},
      {Py_tp_doc, const_cast<char*>("A compiled method or function on the C++ executor (torchkiln.cpp_executor).")},
      {0, nullptr},
  };
  static PyType_Spec spec = {"torchkiln._C.Call", sizeof(CallObject), 0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
                             slots};
  PyObject* type = PyType_FromSpec(&spec);
  if (type == nullptr) throw py::error_already_set();
  return reinterpret_cast<PyTypeObject*>(type);
}

py::object new_call(std::unique_ptr<Callee> callee) {
  PyObject* obj = g_call_type->tp_alloc(g_call_type, 0);
  if (obj == nullptr) throw py::error_already_set();
  auto* o = reinterpret_cast<CallObject*>(obj);
  o->vectorcall = call_vectorcall;
  o->callee = callee.release();
  return py::reinterpret_steal<py::object>(obj);
}

// ---------------------------------------------------------------- objects

// A c10::ivalue::Object of a loaded program: read and re-point its slots.
struct Object {
  c10::intrusive_ptr<c10::ivalue::Object> obj;

  size_t check(int64_t slot) const {
    if (slot < 0 || size_t(slot) >= obj->slots().size()) throw py::index_error("no attribute slot " + std::to_string(slot));
    return size_t(slot);
  }
};

py::object slot_to_python(const c10::IValue& v) {
  if (v.isObject()) return py::cast(Object{v.toObject()});
  if (v.isTensor()) return py::reinterpret_steal<py::object>(THPVariable_Wrap(v.toTensor()));
  return torch::jit::toPyObject(v);
}

std::shared_ptr<State> make_state(torchkiln::Module module, const std::vector<std::string>& names, const py::list& posts) {
  auto state = std::make_shared<State>();
  state->module = module;
  state->root = module.object();
  state->sync = py::none();
  for (size_t i = 0; i < names.size(); ++i)
    state->methods.push_back(method_info(module, names[i], i < posts.size() ? py::object(posts[i]) : py::none()));
  return state;
}

}  // namespace

void bind(py::module_& m) {
  g_state_key = PyUnicode_InternFromString("_kiln_cpp");

  m.def("_init", [](py::object prepare, py::object fallback, py::object make_error) {
    auto* h = new Helpers{std::move(prepare), std::move(fallback), std::move(make_error)};  // lives as long as the process
    g_helpers = h;
  });
  m.def("bump_epoch", [] { g_epoch.fetch_add(1, std::memory_order_relaxed); });
  m.def("epoch", [] { return g_epoch.load(std::memory_order_relaxed); });
  m.def(
      "_reused_buffers", [] { return torchkiln::detail::t_reused_buffers; },
      "How many results this thread's calls wrote into a dying input's buffer (docs/runtime.md; for tests).");

  py::class_<torchkiln::Module>(m, "Program")
      .def("method_names", &torchkiln::Module::method_names)
      .def("has_method", &torchkiln::Module::has_method)
      .def("root_kind", &torchkiln::Module::root_kind)
      .def("name", &torchkiln::Module::name)
      .def("arguments",
           [](const torchkiln::Module& mod, const std::string& method) {
             std::vector<std::string> out;
             for (const auto& a : mod.arguments(method)) out.push_back(a.name + ": " + torchkiln::type_str(a.type));
             return out;
           })
      .def("root", [](const torchkiln::Module& mod) -> py::object {
        c10::IValue root = mod.object();
        if (!root.isObject()) return py::none();
        return py::cast(Object{root.toObject()});
      });

  m.def(
      "load",
      [](py::buffer data) {
        py::buffer_info info = data.request();
        const void* ptr = info.ptr;
        size_t size = size_t(info.size * info.itemsize);
        return translating([&] {
          py::gil_scoped_release nogil;
          return torchkiln::load_from_buffer(ptr, size);
        });
      },
      "Loads an archive from a bytes-like object (torchkiln::load_from_buffer).");

  m.def(
      "load_entries",
      [](const std::vector<std::pair<std::string, py::buffer>>& entries) {
        // The buffers are held (and released) with the GIL; only the load runs without it.
        std::vector<py::buffer_info> infos;
        std::vector<std::pair<std::string, std::string_view>> views;
        infos.reserve(entries.size());
        views.reserve(entries.size());
        for (const auto& [name, data] : entries) {
          infos.push_back(data.request());
          const py::buffer_info& info = infos.back();
          views.emplace_back(name, std::string_view(static_cast<const char*>(info.ptr), size_t(info.size * info.itemsize)));
        }
        return translating([&] {
          py::gil_scoped_release nogil;
          return torchkiln::detail::load_trusted_entries(views);
        });
      },
      "Loads an archive this process built, given as its entries in order: [(name, bytes-like)], "
      "without a zip container or CRC-32 (Note [Trusted in-memory archives], loader.cpp).");

  py::class_<Object>(m, "Object")
      .def_property_readonly("type_name", [](const Object& o) { return o.obj->type()->name()->qualifiedName(); })
      .def("num_slots", [](const Object& o) { return o.obj->slots().size(); })
      .def("slot_name", [](const Object& o, int64_t slot) { return o.obj->type()->getAttributeName(o.check(slot)); })
      .def("slot_type", [](const Object& o, int64_t slot) { return torchkiln::type_str(o.obj->type()->getAttribute(o.check(slot))); })
      .def("slot_index",
           [](const Object& o, const std::string& name) -> int64_t {
             auto slot = o.obj->type()->findAttributeSlot(name);
             return slot ? int64_t(*slot) : -1;
           })
      .def("get", [](const Object& o, int64_t slot) { return slot_to_python(o.obj->getSlot(o.check(slot))); })
      // Points a tensor slot at `value` (a tensor, shared, or None).
      .def("set_tensor",
           [](Object& o, int64_t slot, py::handle value) {
             size_t s = o.check(slot);
             if (value.is_none()) {
               o.obj->setSlot(s, c10::IValue());
             } else if (THPVariable_Check(value.ptr())) {
               o.obj->setSlot(s, c10::IValue(THPVariable_Unpack(value.ptr())));
             } else {
               throw py::type_error(std::string("expected a tensor or None, got ") + Py_TYPE(value.ptr())->tp_name);
             }
           })
      // Sets a slot from a Python value of the slot's declared type (tensors shared).
      .def("set_value",
           [](Object& o, int64_t slot, py::handle value) {
             size_t s = o.check(slot);
             o.obj->setSlot(s, torch::jit::toIValue(value, o.obj->type()->getAttribute(s)));
           })
      // Whether the slot holds exactly `value` (the same tensor, or None).
      .def("holds",
           [](const Object& o, int64_t slot, py::handle value) {
             const c10::IValue& v = o.obj->getSlot(o.check(slot));
             if (value.is_none()) return v.isNone();
             if (!v.isTensor() || !THPVariable_Check(value.ptr())) return false;
             return v.toTensor().unsafeGetTensorImpl() == THPVariable_Unpack(value.ptr()).unsafeGetTensorImpl();
           })
      .def("identity", [](const Object& o) { return reinterpret_cast<uintptr_t>(o.obj.get()); });

  py::class_<State, std::shared_ptr<State>>(m, "State", py::dynamic_attr(), py::is_final())
      .def(py::init(&make_state), py::arg("program"), py::arg("methods"), py::arg("posts"))
      .def_readwrite("sync", &State::sync)
      .def_property_readonly("program", [](const State& s) { return s.module; })
      .def("mark_fresh", [](State& s) { s.epoch = g_epoch.load(std::memory_order_relaxed); })
      .def("mark_stale", [](State& s) { s.epoch = 0; })
      .def_property_readonly("fresh", [](const State& s) { return s.epoch == g_epoch.load(std::memory_order_relaxed); })
      .def("method_names",
           [](const State& s) {
             std::vector<std::string> out;
             for (const auto& m : s.methods) out.push_back(m.name);
             return out;
           })
      // Copies and pickles of a module drop their C++ state; it is rebuilt on first call.
      .def("__copy__", [](const State&) { return py::none(); })
      .def("__deepcopy__", [](const State&, py::handle) { return py::none(); })
      .def("__reduce__", [](const State&) {
        return py::make_tuple(py::type::of(py::none()), py::tuple());
      });

  g_state_type = reinterpret_cast<PyTypeObject*>(py::type::of<State>().ptr());
  g_call_type = make_call_type();
  m.add_object("Call", py::handle(reinterpret_cast<PyObject*>(g_call_type)));
  m.def(
      "MethodCall",
      [](std::string name, size_t index, py::object function) {
        auto c = std::make_unique<Callee>();
        c->name = std::move(name);
        c->index = index;
        c->function = std::move(function);
        return new_call(std::move(c));
      },
      "A method's Call: f(module, *args) runs `name` on the module's C++ state.");
  m.def(
      "FunctionCall",
      [](std::shared_ptr<State> state, size_t index) {
        if (state == nullptr || index >= state->methods.size()) throw py::index_error("no such method");
        auto c = std::make_unique<Callee>();
        c->name = state->methods[index].name;
        c->index = index;
        c->state = std::move(state);
        return new_call(std::move(c));
      },
      "A free function's Call: f(*args) runs method `index` of `state`'s program.");
}

}  // namespace torchkiln::python

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "torchkiln's C++ runtime as a Python executor (see torchkiln/cpp_executor.py)";
  torchkiln::python::bind(m);
}
