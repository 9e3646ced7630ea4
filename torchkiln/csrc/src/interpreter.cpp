// Runs register code (Note [Register code] in program.h).
//
// One Frame per call: a register array sized by the compiler, the shared
// value stack for op arguments. Instructions run in a switch; If and Loop
// recurse into their blocks. Errors are turned, at the instruction that
// failed, into ProgramErrors carrying the Python source location; each call
// site on the way out adds its own line (Note [Tracebacks]).
#include <ATen/ThreadLocalState.h>
#include <c10/core/GradMode.h>
#include <c10/util/Exception.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "autocast.h"
#include "error.h"
#include "fastpath.h"
#include "program.h"
#include "types.h"

namespace torchkiln {

namespace {
std::string compose(const std::string& cls, const std::string& message, const std::string& traceback) {
  std::string out = cls + ": " + message;
  if (!traceback.empty()) out += "\nTraceback (most recent call last):\n" + traceback;
  return out;
}
}  // namespace

ProgramError::ProgramError(std::string python_class, std::string message, std::string traceback)
    : Error(compose(python_class, message, traceback)),
      python_class_(std::move(python_class)),
      message_(std::move(message)),
      traceback_(std::move(traceback)) {}

namespace detail {

std::string SourceLoc::render(const std::string& function) const {
  std::string out = cat("  File \"", file, "\", line ", line, ", column ", col + 1, ", in ", function);
  if (!text || text->find_first_not_of(" \t") == std::string::npos) return out;
  size_t indent = text->find_first_not_of(" \t");
  std::string stripped = text->substr(indent);
  while (!stripped.empty() && (stripped.back() == '\n' || stripped.back() == '\r')) stripped.pop_back();
  int64_t start = std::max<int64_t>(col - int64_t(indent), 0);
  int64_t width = end_col ? std::max<int64_t>(*end_col - col, 1) : 1;
  start = std::min<int64_t>(start, int64_t(stripped.size()));
  width = std::min<int64_t>(width, std::max<int64_t>(int64_t(stripped.size()) - start, 1));
  return out + "\n    " + stripped + "\n    " + std::string(size_t(start), ' ') + std::string(size_t(width), '^');
}

void raise_python(const std::string& cls, const std::string& message) { throw ProgramError(cls, message, ""); }

namespace {

// ------------------------------------------------------------- task pool

// Threads for prim::fork. A thread that waits on a future first runs queued
// tasks itself, so nested fork/wait never deadlocks on a full pool.
class TaskPool {
 public:
  static TaskPool& get() {
    static TaskPool* pool = new TaskPool();  // never destroyed: workers may outlive main
    return *pool;
  }

  void submit(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(task));
      if (!started_) {
        started_ = true;
        unsigned n = std::max(2u, std::thread::hardware_concurrency());
        for (unsigned i = 0; i < n; ++i) std::thread([this] { work(); }).detach();
      }
    }
    ready_.notify_one();
  }

  bool run_one() {
    std::function<void()> task;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (queue_.empty()) return false;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
    return true;
  }

 private:
  void work() {
    while (true) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [this] { return !queue_.empty(); });
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;
  bool started_ = false;
};

// ------------------------------------------------------------ tracebacks

// Note [Tracebacks]
// -----------------
// Inside a function, the innermost block whose instruction failed turns
// the exception into a ProgramError with one frame (that node's line);
// enclosing If/Loop instructions pass it through unchanged; a Call (or the
// wait of a fork) prepends the caller's line. The traceback therefore reads
// outermost call first, as Python prints it.

std::string python_class_of(const c10::Error& e) {
  if (dynamic_cast<const c10::IndexError*>(&e)) return "IndexError";
  if (dynamic_cast<const c10::ValueError*>(&e)) return "ValueError";
  if (dynamic_cast<const c10::TypeError*>(&e)) return "TypeError";
  if (dynamic_cast<const c10::NotImplementedError*>(&e)) return "NotImplementedError";
  if (dynamic_cast<const c10::OutOfMemoryError*>(&e)) return "torch.OutOfMemoryError";
  if (dynamic_cast<const c10::LinAlgError*>(&e)) return "torch.linalg.LinAlgError";
  return "RuntimeError";
}

thread_local int t_depth = 0;
constexpr int kMaxDepth = 2000;  // nested calls and blocks, to stay far from the native stack's end

struct DepthGuard {
  DepthGuard() {
    if (++t_depth > kMaxDepth) {
      --t_depth;
      raise_python("RecursionError", "maximum recursion depth exceeded");
    }
  }
  ~DepthGuard() { --t_depth; }
};

// ----------------------------------------------------------------- frame

// Register arrays are reused per thread: allocating one per call (a few KB
// for a long straight-line method) costs more than the interpreter's own
// dispatch on small ops. A released array holds only None values.
class RegisterPool {
 public:
  c10::IValue* acquire(size_t n, size_t& capacity) {
    for (size_t i = free_.size(); i-- > 0;) {
      if (free_[i].first >= n) {
        capacity = free_[i].first;
        c10::IValue* regs = free_[i].second.release();
        free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(i));
        return regs;
      }
    }
    capacity = n;
    return new c10::IValue[n];
  }
  void release(c10::IValue* regs, size_t used, size_t capacity) {
    for (size_t i = 0; i < used; ++i) regs[i] = c10::IValue();
    if (free_.size() < kKeep) {
      free_.emplace_back(capacity, std::unique_ptr<c10::IValue[]>(regs));
    } else {
      delete[] regs;
    }
  }

 private:
  static constexpr size_t kKeep = 32;  // nested calls in flight on one thread, kept warm
  std::vector<std::pair<size_t, std::unique_ptr<c10::IValue[]>>> free_;
};

thread_local RegisterPool t_registers;

class Frame {
 public:
  Frame(const Program& program, const Code& code, Stack& stack)
      : program_(program), code_(code), stack_(stack), regs_(t_registers.acquire(code.num_regs, capacity_)) {}
  ~Frame() { t_registers.release(regs_, code_.num_regs, capacity_); }
  Frame(const Frame&) = delete;
  Frame& operator=(const Frame&) = delete;

  void enter(size_t n_args) {
    const BlockCode& top = code_.blocks[0];
    if (n_args != top.n_params) fail(code_.name, ": called with ", n_args, " arguments, needs ", top.n_params);
    size_t base = stack_.size() - n_args;
    const uint32_t* params = &code_.regs[top.params];
    for (uint32_t i = 0; i < top.n_params; ++i) regs_[params[i]] = std::move(stack_[base + i]);
    stack_.resize(base);
  }

  void run() {
    run_block(0);
    stack_.push_back(take(code_.operands[code_.blocks[0].returns]));
  }

 private:
  C10_ALWAYS_INLINE void push(Operand o) {
    switch (o.kind()) {
      case Operand::Copy: stack_.push_back(regs_[o.index()]); break;
      case Operand::Move: stack_.push_back(std::move(regs_[o.index()])); break;
      case Operand::Const: stack_.push_back(code_.constants[o.index()]); break;
      case Operand::FreshConst: stack_.push_back(fresh_copy(code_.constants[o.index()])); break;
    }
  }
  C10_ALWAYS_INLINE c10::IValue take(Operand o) {
    switch (o.kind()) {
      case Operand::Copy: return regs_[o.index()];
      case Operand::Move: return std::move(regs_[o.index()]);
      case Operand::Const: return code_.constants[o.index()];
      case Operand::FreshConst: return fresh_copy(code_.constants[o.index()]);
    }
    return {};
  }
  C10_ALWAYS_INLINE const c10::IValue& peek(Operand o) const {
    return o.kind() <= Operand::Move ? regs_[o.index()] : code_.constants[o.index()];
  }
  C10_ALWAYS_INLINE void release(Operand o) {
    if (o.kind() == Operand::Move) regs_[o.index()] = c10::IValue();
  }

  C10_ALWAYS_INLINE void push_inputs(const Instr& in) {
    const Operand* ops = code_.operands.data() + in.in;
    for (uint32_t i = 0; i < in.n_in; ++i) push(ops[i]);
  }

  C10_ALWAYS_INLINE void pop_outputs(const Instr& in, size_t base) {
    if (C10_UNLIKELY(stack_.size() != base + in.n_out))
      fail("produced ", stack_.size() - base, " values for ", in.n_out, " outputs");
    const uint32_t* out = code_.regs.data() + in.out;
    for (uint32_t i = 0; i < in.n_out; ++i) regs_[out[i]] = std::move(stack_[base + i]);
    stack_.resize(base);
  }

  void run_block(uint32_t index) {
    DepthGuard guard;
    const BlockCode& b = code_.blocks[index];
    const Instr* pc = code_.instrs.data() + b.begin;
    const Instr* end = code_.instrs.data() + b.end;
    try {
      for (; pc != end; ++pc) {
        execute(*pc);
        const uint32_t* drop = code_.regs.data() + pc->drop;
        for (uint32_t i = 0; i < pc->n_drop; ++i) regs_[drop[i]] = c10::IValue();
      }
    } catch (...) {
      relocate(*pc);
    }
  }

  C10_ALWAYS_INLINE void execute(const Instr& in) {
    switch (in.op) {
      case OpCode::Aten: {
        size_t base = stack_.size();
        push_inputs(in);
        code_.aten[in.arg].callBoxed(stack_);
        pop_outputs(in, base);
        break;
      }
      case OpCode::AtenPure: {
        size_t base = stack_.size();
        push_inputs(in);
        call_pure(code_.aten[in.arg], base);
        pop_outputs(in, base);
        break;
      }
      case OpCode::AtenReuse: {
        size_t base = stack_.size();
        push_inputs(in);
        call_reusing(code_.reuse[in.arg], base);
        pop_outputs(in, base);
        break;
      }
      case OpCode::Prim: {
        size_t base = stack_.size();
        push_inputs(in);
        code_.prims[in.arg](stack_);
        pop_outputs(in, base);
        break;
      }
      case OpCode::If: {
        Operand cond = code_.operands[in.in];
        bool c = peek(cond).toBool();
        release(cond);
        uint32_t index = in.arg + (c ? 0 : 1);
        run_block(index);
        const Operand* rets = code_.operands.data() + code_.blocks[index].returns;
        const uint32_t* out = code_.regs.data() + in.out;
        for (uint32_t i = 0; i < in.n_out; ++i) regs_[out[i]] = take(rets[i]);
        break;
      }
      case OpCode::Loop: run_loop(in); break;
      case OpCode::GetAttr: {
        Operand self = code_.operands[in.in];
        const auto& obj = peek(self).toObjectRef();
        if (C10_UNLIKELY(in.arg >= obj.slots().size())) fail("object has no attribute slot ", in.arg);
        regs_[code_.regs[in.out]] = obj.getSlot(in.arg);
        release(self);
        break;
      }
      case OpCode::SetAttr: {
        const Operand* ops = code_.operands.data() + in.in;
        c10::IValue value = take(ops[1]);
        auto& obj = peek(ops[0]).toObjectRef();
        if (C10_UNLIKELY(in.arg >= obj.slots().size())) fail("object has no attribute slot ", in.arg);
        obj.setSlot(in.arg, std::move(value));
        release(ops[0]);
        break;
      }
      case OpCode::Call: {
        size_t base = stack_.size();
        push_inputs(in);
        run_code(program_, *program_.functions[in.arg], stack_);
        pop_outputs(in, base);
        break;
      }
      case OpCode::Fork: fork(in); break;
      case OpCode::DynGetAttr: dyn_get_attr(in); break;
      case OpCode::DynSetAttr: dyn_set_attr(in); break;
      case OpCode::DynCall: dyn_call(in); break;
    }
  }

  // -- ATen fast paths (fastpath.h) ------------------------------------------

  void call_pure(const c10::OperatorHandle& op, size_t base) {
    if (below_autograd_ok(stack_, base)) {
      BelowAutograd below;
      op.callBoxed(stack_);
    } else {
      op.callBoxed(stack_);
    }
  }

  // Note [Buffer reuse] in reuse.cpp: the first candidate input that
  // nobody else can see, and that the other tensor inputs fit into, becomes
  // the `out` argument.
  void call_reusing(const ReuseOp& r, size_t base) {
    if (!below_autograd_ok(stack_, base) || !reuse_allowed()) {
      call_pure(r.functional, base);
      return;
    }
    BelowAutograd below;
    for (uint32_t pos : r.candidates) {
      const c10::IValue& v = stack_[base + pos];
      if (!v.isTensor()) continue;
      const at::Tensor& t = v.toTensor();
      if (!(r.dtypes >> uint32_t(t.scalar_type()) & 1u) || !uniquely_owned(t)) continue;
      bool fits = true;
      for (size_t i = base; i < stack_.size() && fits; ++i)
        if (i != base + pos && stack_[i].isTensor()) fits = fits_into(stack_[i].toTensor(), t);
        else if (stack_[i].isList() || stack_[i].isTensorList()) fits = false;
      if (!fits) continue;
      c10::IValue out = v;  // the op's `out` argument: the same tensor, written in place
      stack_.push_back(std::move(out));
      r.out.callBoxed(stack_);
      ++t_reused_buffers;
      return;
    }
    r.functional.callBoxed(stack_);
  }

  // -- objects whose static type is Any: look the name up by class --------

  static const c10::Type* class_key(const c10::IValue& v) {
    if (!v.isObject()) raise_python("AttributeError", cat("'", v.tagKind(), "' object has no attributes"));
    return v.toObjectRef().type().get();
  }
  [[noreturn]] static void no_attribute(const c10::IValue& v, const std::string& name) {
    raise_python("AttributeError", cat("'", v.toObjectRef().type()->name()->name(), "' object has no attribute '", name, "'"));
  }

  void dyn_get_attr(const Instr& in) {
    const Code::Dynamic& d = code_.dynamic[in.arg];
    Operand self = code_.operands[in.in];
    const c10::IValue& obj = peek(self);
    const c10::Type* key = class_key(obj);
    c10::IValue result;
    bool found = false;
    for (const auto& [type, slot] : d.slots)
      if (type == key && slot < obj.toObjectRef().slots().size()) result = obj.toObjectRef().getSlot(slot), found = true;
    for (const auto& [type, value] : d.constants)
      if (!found && type == key) result = value, found = true;
    if (!found) no_attribute(obj, d.name);
    regs_[code_.regs[in.out]] = std::move(result);
    release(self);
  }

  void dyn_set_attr(const Instr& in) {
    const Code::Dynamic& d = code_.dynamic[in.arg];
    const Operand* ops = code_.operands.data() + in.in;
    c10::IValue value = take(ops[1]);
    const c10::IValue& obj = peek(ops[0]);
    const c10::Type* key = class_key(obj);
    for (const auto& [type, slot] : d.slots)
      if (type == key && slot < obj.toObjectRef().slots().size()) {
        const ClassInfo& cls = *program_.class_by_type.at(type);
        if (!conforms(value, cls.type->getAttribute(slot)))
          raise_python("TypeError", cat("cannot assign a ", value.tagKind(), " to ", cls.name, ".", d.name));
        obj.toObjectRef().setSlot(slot, std::move(value));
        release(ops[0]);
        return;
      }
    no_attribute(obj, d.name);
  }

  void dyn_call(const Instr& in) {
    const Code::Dynamic& d = code_.dynamic[in.arg];
    const c10::IValue& obj = peek(code_.operands[in.in]);
    const c10::Type* key = class_key(obj);
    const Code* callee = nullptr;
    for (const auto& [type, index] : d.methods)
      if (type == key) callee = program_.functions[index].get();
    if (callee == nullptr) no_attribute(obj, d.name);
    if (in.n_in > callee->args.size())
      raise_python("TypeError", cat(callee->function, "() takes ", callee->args.size() - 1, " arguments but ", in.n_in - 1, " were given"));
    size_t base = stack_.size();
    push_inputs(in);
    for (size_t i = in.n_in; i < callee->args.size(); ++i) {
      const ArgInfo& a = callee->args[i];
      if (!a.default_value) raise_python("TypeError", cat(callee->function, "() is missing argument '", a.name, "'"));
      stack_.push_back(is_mutable_type(a.type) ? fresh_copy(*a.default_value) : *a.default_value);
    }
    for (size_t i = 1; i < callee->args.size(); ++i)
      if (!conforms(stack_[base + i], callee->args[i].type))
        raise_python("TypeError", cat(callee->function, "() argument '", callee->args[i].name, "' must be ",
                                      type_text(callee->args[i].type), ", not ", stack_[base + i].tagKind()));
    run_code(program_, *callee, stack_);
    pop_outputs(in, base);
  }

  void run_loop(const Instr& in) {
    const Operand* ops = code_.operands.data() + in.in;
    int64_t max_trips = peek(ops[0]).toInt();
    release(ops[0]);
    bool cond = peek(ops[1]).toBool();
    release(ops[1]);
    const BlockCode& body = code_.blocks[in.arg];
    const uint32_t* params = code_.regs.data() + body.params;
    const Operand* rets = code_.operands.data() + body.returns;
    const uint32_t carried = in.n_out;
    for (uint32_t j = 0; j < carried; ++j) regs_[params[1 + j]] = take(ops[2 + j]);
    for (int64_t i = 0; cond && i < max_trips; ++i) {
      regs_[params[0]] = i;
      run_block(in.arg);
      // Results go through the stack: a result may be another parameter.
      size_t base = stack_.size();
      for (uint32_t k = 0; k <= carried; ++k) push(rets[k]);
      cond = stack_[base].toBool();
      for (uint32_t j = 0; j < carried; ++j) regs_[params[1 + j]] = std::move(stack_[base + 1 + j]);
      stack_.resize(base);
    }
    const uint32_t* out = code_.regs.data() + in.out;
    for (uint32_t j = 0; j < carried; ++j) regs_[out[j]] = std::move(regs_[params[1 + j]]);
  }

  void fork(const Instr& in) {
    const Code::ForkInfo& f = code_.forks[in.arg];
    std::vector<c10::IValue> args;
    args.reserve(in.n_in);
    const Operand* ops = code_.operands.data() + in.in;
    for (uint32_t i = 0; i < in.n_in; ++i) args.push_back(take(ops[i]));
    auto future = c10::make_intrusive<c10::ivalue::Future>(f.type);
    std::shared_ptr<const Program> keep = program_.shared_from_this();
    const Code* callee = program_.functions[f.function].get();
    TaskPool::get().submit([keep, callee, args = std::move(args), future, state = at::ThreadLocalState()]() mutable {
      at::ThreadLocalStateGuard guard(state);
      try {
        Stack stack(std::make_move_iterator(args.begin()), std::make_move_iterator(args.end()));
        run_code(*keep, *callee, stack);
        future->markCompleted(std::move(stack.back()));
      } catch (...) {
        future->setError(std::current_exception());
      }
    });
    regs_[code_.regs[in.out]] = c10::IValue(std::move(future));
  }

  std::string frame_line(const NodeInfo& node) const {
    if (node.loc >= 0) return program_.locs[node.loc].render(code_.function);
    return cat("  In ", code_.function, ", at ", node.kind, " (no source location)");
  }

  // Called in a catch block: rethrows the current exception located at `in`.
  [[noreturn]] void relocate(const Instr& in) {
    const NodeInfo& node = code_.nodes[in.node];
    try {
      throw;
    } catch (const ProgramError& e) {
      bool passes_through = in.op == OpCode::If || in.op == OpCode::Loop;
      if (passes_through && !e.traceback().empty()) throw;
      std::string tb = e.traceback().empty() ? frame_line(node) : frame_line(node) + "\n" + e.traceback();
      throw ProgramError(e.python_class(), e.message(), tb);
    } catch (const c10::Error& e) {
      throw ProgramError(python_class_of(e), node.kind + ": " + e.what_without_backtrace(), frame_line(node));
    } catch (const std::bad_alloc&) {
      throw ProgramError("MemoryError", node.kind + ": out of memory", frame_line(node));
    } catch (const std::length_error& e) {
      throw ProgramError("MemoryError", node.kind + ": too large (" + e.what() + ")", frame_line(node));
    } catch (const std::exception& e) {
      throw ProgramError("RuntimeError", node.kind + ": " + e.what(), frame_line(node));
    } catch (...) {
      throw ProgramError("RuntimeError", node.kind + ": unknown C++ exception", frame_line(node));
    }
  }

  const Program& program_;
  const Code& code_;
  Stack& stack_;
  size_t capacity_ = 0;
  c10::IValue* regs_;
};

}  // namespace

void run_code(const Program& program, const Code& code, Stack& stack) {
  Frame frame(program, code, stack);
  frame.enter(code.blocks[0].n_params);
  // An exception inside `with torch.no_grad()` skipped its restore: give back the grad mode
  // the call started with (Note [Grad mode on exceptions] in torchkiln/codegen/compiler.py);
  // leave the autocast blocks it entered (Note [Autocast in script] in torchkiln/ops/lang.py).
  const bool grad_mode = c10::GradMode::is_enabled();
  const size_t autocast_blocks = autocast_depth();
  try {
    frame.run();
  } catch (...) {
    c10::GradMode::set_enabled(grad_mode);
    autocast_unwind(autocast_blocks);
    throw;
  }
}

c10::IValue wait_future(const c10::intrusive_ptr<c10::ivalue::Future>& future) {
  while (!future->completed())
    if (!TaskPool::get().run_one()) {
      future->wait();
      break;
    }
  return future->value();
}

c10::IValue call_function(const Program& program, const Code& code, c10::IValue self, std::vector<c10::IValue> args) {
  const size_t first = code.self_class != nullptr ? 1 : 0;
  const size_t n_params = code.args.size() - first;
  if (args.size() > n_params)
    throw ArgumentError(cat(code.function, "() takes ", n_params, " argument(s) but ", args.size(), " were given"));
  for (size_t i = args.size(); i < n_params; ++i) {
    const ArgInfo& a = code.args[first + i];
    if (!a.default_value) throw ArgumentError(cat(code.function, "() is missing argument '", a.name, "'"));
    args.push_back(is_mutable_type(a.type) ? fresh_copy(*a.default_value) : *a.default_value);
  }
  for (size_t i = 0; i < n_params; ++i) {
    const ArgInfo& a = code.args[first + i];
    if (!conforms(args[i], a.type) || !implements_interface(program, args[i], a.type))
      throw ArgumentError(cat(code.function, "() argument '", a.name, "' (position ", i + 1, ") must be ", type_text(a.type),
                              ", not ", args[i].isObject() ? args[i].toObjectRef().type()->name()->qualifiedName() : args[i].tagKind()));
  }
  Stack stack;
  stack.reserve(code.args.size() + 8);
  if (first) stack.push_back(std::move(self));
  for (auto& a : args) stack.push_back(std::move(a));
  run_code(program, code, stack);
  return std::move(stack.back());
}

}  // namespace detail
}  // namespace torchkiln
