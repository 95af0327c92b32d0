// The native addon: system calls only. It moves bytes between Uint8Arrays
// and the kernel and throws errors shaped like Node's SystemError; every
// decision is made in TypeScript (src/native.ts declares this surface).
#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace {

// Node's SystemError shape: message "<syscall> [<what>] failed: <CODE> (<text>)",
// code "EINVAL", errno -22 (negative, as in Node), syscall "ioctl".
Napi::Error SystemError(Napi::Env env, int err, const char* syscall, const std::string& what) {
  const char* code = uv_err_name(-err);
  std::string message = std::string(syscall) + (what.empty() ? "" : " " + what) + " failed: " + code + " (" +
                        std::strerror(err) + ")";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", code);
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", syscall);
  return error;
}

// An fd is an integer: 3.7 is refused, not truncated to another file's fd.
int ToFd(const Napi::Value& v) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), "fd must be a number");
  double fd = v.As<Napi::Number>().DoubleValue();
  if (!(fd >= 0 && fd <= INT32_MAX) || fd != static_cast<double>(static_cast<int>(fd))) {
    throw Napi::RangeError::New(v.Env(), "fd must be an integer from 0 to 2^31-1");
  }
  return static_cast<int>(fd);
}

// A non-negative integer that fits a double exactly (offsets, lengths).
uint64_t ToU53(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 9007199254740991.0) || d != static_cast<double>(static_cast<uint64_t>(d))) {
    throw Napi::RangeError::New(v.Env(), std::string(what) + " must be a non-negative safe integer");
  }
  return static_cast<uint64_t>(d);
}

// A Uint8Array's bytes, from one napi_get_typedarray_info (which refuses
// anything but a typed array): going through Napi::Uint8Array asks four
// times, and this is on every ioctl of the per-frame path.
struct Bytes {
  uint8_t* data;
  size_t length;
};

Bytes ToBytes(const Napi::Value& v, const char* what) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(v.Env(), v, &type, &length, &data, nullptr, nullptr) != napi_ok || type != napi_uint8_array) {
    throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a Uint8Array");
  }
  return {static_cast<uint8_t*>(data), length};
}

// Writes, for each [into, offset, target] of `pointers`, the address of
// target's bytes as a little-endian u64 at into[offset]: the user pointers
// inside DRM structs (arrays the kernel fills or reads). The caller holds
// every target for the duration of the ioctl.
void PatchPointers(const Napi::Value& v) {
  if (v.IsUndefined()) return;
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), "pointers must be an array of [into, offset, target]");
  Napi::Array list = v.As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value entry = list.Get(i);
    if (!entry.IsArray() || entry.As<Napi::Array>().Length() != 3) {
      throw Napi::TypeError::New(v.Env(), "each pointer must be [into, offset, target]");
    }
    Napi::Array triple = entry.As<Napi::Array>();
    Bytes into = ToBytes(triple.Get(0u), "pointer destination");
    uint64_t offset = ToU53(triple.Get(1u), "pointer offset");
    Bytes target = ToBytes(triple.Get(2u), "pointer target");
    if (offset > into.length || into.length - offset < sizeof(uint64_t)) {
      throw Napi::RangeError::New(v.Env(), "pointer offset outside its destination");
    }
    uint64_t address = target.length ? reinterpret_cast<uintptr_t>(target.data) : 0;
    std::memcpy(into.data + offset, &address, sizeof(address));
  }
}

// ioctl(fd, request, arg, name, pointers?): arg is a Uint8Array (its bytes
// are the struct, in and out) or an integer passed by value; pointers are
// patched in first (PatchPointers). Returns the ioctl's non-negative result
// (some return a new fd).
Napi::Value Ioctl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(info[0]);
  unsigned long request = static_cast<unsigned long>(ToU53(info[1], "request"));
  PatchPointers(info[4]);
  int r;
  if (info[2].IsNumber()) {
    r = ioctl(fd, request, static_cast<unsigned long>(ToU53(info[2], "arg")));
  } else {
    r = ioctl(fd, request, ToBytes(info[2], "arg").data);
  }
  if (r < 0) {
    int err = errno;
    // The name only matters for the error: converted here, not on every call.
    std::string name = info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : std::string();
    throw SystemError(env, err, "ioctl", name);
  }
  return Napi::Number::New(env, r);
}

// pread/pwrite(fd, bytes, offset) and read/write(fd, bytes): bytes moved.
template <typename Syscall>
Napi::Value Transfer(const Napi::CallbackInfo& info, const char* name, bool positioned, Syscall call) {
  int fd = ToFd(info[0]);
  Bytes bytes = ToBytes(info[1], "buffer");
  off_t offset = positioned ? static_cast<off_t>(ToU53(info[2], "offset")) : 0;
  ssize_t n = call(fd, bytes.data, bytes.length, offset);
  if (n < 0) throw SystemError(info.Env(), errno, name, "");
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

Napi::Value Pread(const Napi::CallbackInfo& info) {
  return Transfer(info, "pread", true, [](int fd, uint8_t* p, size_t n, off_t o) { return pread(fd, p, n, o); });
}

Napi::Value Pwrite(const Napi::CallbackInfo& info) {
  return Transfer(info, "pwrite", true, [](int fd, uint8_t* p, size_t n, off_t o) { return pwrite(fd, p, n, o); });
}

Napi::Value Read(const Napi::CallbackInfo& info) {
  return Transfer(info, "read", false, [](int fd, uint8_t* p, size_t n, off_t) { return read(fd, p, n); });
}

Napi::Value Write(const Napi::CallbackInfo& info) {
  return Transfer(info, "write", false, [](int fd, uint8_t* p, size_t n, off_t) { return write(fd, p, n); });
}

Napi::Value Eventfd(const Napi::CallbackInfo& info) {
  unsigned int initval = static_cast<unsigned int>(ToU53(info[0], "initval"));
  int flags = static_cast<int>(ToU53(info[1], "flags"));
  int fd = eventfd(initval, flags);
  if (fd < 0) throw SystemError(info.Env(), errno, "eventfd", "");
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value Fcntl(const Napi::CallbackInfo& info) {
  int fd = ToFd(info[0]);
  int cmd = static_cast<int>(ToU53(info[1], "cmd"));
  long arg = static_cast<long>(ToU53(info[2], "arg"));
  int r = fcntl(fd, cmd, arg);
  if (r < 0) throw SystemError(info.Env(), errno, "fcntl", "");
  return Napi::Number::New(info.Env(), r);
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  if (close(ToFd(info[0])) < 0) throw SystemError(info.Env(), errno, "close", "");
  return info.Env().Undefined();
}

// --- mmap ---------------------------------------------------------------
// A mapping is an external ArrayBuffer. munmap() unmaps it and detaches the
// buffer (every view of it then has length 0); the GC finalizer unmaps what
// was not unmapped explicitly. The registry finds a mapping by address.

struct Mapping {
  void* addr;
  size_t length;
};

std::mutex mappings_lock;
std::unordered_map<void*, Mapping*> mappings;

void FinalizeMapping(Napi::Env, void*, Mapping* m) {
  {
    std::lock_guard<std::mutex> guard(mappings_lock);
    auto it = mappings.find(m->addr);
    if (it != mappings.end() && it->second == m) {
      mappings.erase(it);
      munmap(m->addr, m->length);
    }
  }
  delete m;
}

Napi::Value Mmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(info[0]);
  size_t length = static_cast<size_t>(ToU53(info[1], "length"));
  int prot = static_cast<int>(ToU53(info[2], "prot"));
  int flags = static_cast<int>(ToU53(info[3], "flags"));
  uint64_t offset = ToU53(info[4], "offset");
  if (length == 0) throw Napi::RangeError::New(env, "mmap length must be > 0");
  void* addr = mmap(nullptr, length, prot, flags, fd, static_cast<off_t>(offset));
  if (addr == MAP_FAILED) throw SystemError(env, errno, "mmap", "");
  Mapping* m = new Mapping{addr, length};
  {
    std::lock_guard<std::mutex> guard(mappings_lock);
    mappings[addr] = m;
  }
  return Napi::ArrayBuffer::New(env, addr, length, FinalizeMapping, m);
}

// munmap(arrayBuffer): returns false if it was already unmapped.
Napi::Value Munmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArrayBuffer()) throw Napi::TypeError::New(env, "munmap takes the ArrayBuffer mmap returned");
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  void* addr = ab.Data();
  Mapping* m = nullptr;
  {
    std::lock_guard<std::mutex> guard(mappings_lock);
    auto it = addr ? mappings.find(addr) : mappings.end();
    if (it != mappings.end()) {
      m = it->second;
      mappings.erase(it);
    }
  }
  if (m == nullptr) {
    if (ab.IsDetached()) return Napi::Boolean::New(env, false);
    throw Napi::TypeError::New(env, "munmap takes an ArrayBuffer that mmap returned");
  }
  ab.Detach();
  if (munmap(m->addr, m->length) < 0) throw SystemError(env, errno, "munmap", "");
  return Napi::Boolean::New(env, true);
}

// --- waiting for readability ----------------------------------------------
// waitReadable(fd, timeoutMs, keepAlive, restoreFlags, callback) -> handle;
// callback(result) runs once on this env's loop: result >= 0 is the uv_poll
// event mask (UV_READABLE = 1, UV_DISCONNECT = 4), or -ETIMEDOUT, -ECANCELED
// (after cancelWait(handle)) or another -errno. timeoutMs < 0 waits without
// limit. uv_poll_init sets O_NONBLOCK on the open file: restoreFlags >= 0 is
// set back with F_SETFL when the wait ends (the caller read it with F_GETFL).
// A Wait lives until both its uv handles are closed and the JS handle is
// collected; only the loop thread touches it, so it needs no lock.

struct Wait {
  uv_poll_t poll;
  uv_timer_t timer;
  int fd;
  int restore_flags;
  int open_handles = 0;
  bool js_alive = true;
  bool done = false;
  napi_env env;
  Napi::FunctionReference callback;
  Napi::ObjectReference resource;
};

void MaybeDelete(Wait* w) {
  if (w->open_handles == 0 && !w->js_alive) delete w;
}

void OnHandleClosed(uv_handle_t* handle) {
  Wait* w = static_cast<Wait*>(handle->data);
  w->open_handles--;
  MaybeDelete(w);
}

void FinalizeWait(Napi::Env, Wait* w) {
  w->js_alive = false;
  MaybeDelete(w);
}

constexpr int kTeardown = INT32_MIN;
void CleanupHook(void* arg);

void Finish(Wait* w, int result) {
  if (w->done) return;
  w->done = true;
  napi_remove_env_cleanup_hook(w->env, CleanupHook, w);
  uv_poll_stop(&w->poll);
  uv_timer_stop(&w->timer);
  // Stopped, the poll no longer needs O_NONBLOCK; a failure (the fd closed
  // under the wait) leaves nothing of ours to undo.
  if (w->restore_flags >= 0) fcntl(w->fd, F_SETFL, w->restore_flags);
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnHandleClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&w->timer), OnHandleClosed);
  Napi::FunctionReference callback = std::move(w->callback);
  if (result == kTeardown) return;
  Napi::Env env(w->env);
  Napi::HandleScope scope(env);
  Napi::Object resource = w->resource.Value();
  w->resource.Reset();
  Napi::AsyncContext context(env, "vfio-display:waitReadable", resource);
  try {
    callback.MakeCallback(resource, {Napi::Number::New(env, result)}, context);
  } catch (const Napi::Error& e) {
    // Outside any JS frame (a libuv callback): report it as Node reports an
    // exception thrown from an async callback.
    napi_fatal_exception(env, e.Value());
  }
}

void CleanupHook(void* arg) { Finish(static_cast<Wait*>(arg), kTeardown); }

void OnPoll(uv_poll_t* handle, int status, int events) {
  Finish(static_cast<Wait*>(handle->data), status < 0 ? status : events);
}

void OnTimeout(uv_timer_t* handle) { Finish(static_cast<Wait*>(handle->data), -ETIMEDOUT); }

Napi::Value WaitReadable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(info[0]);
  if (!info[1].IsNumber()) throw Napi::TypeError::New(env, "timeoutMs must be a number");
  double timeout = info[1].As<Napi::Number>().DoubleValue();
  bool keep_alive = info[2].ToBoolean().Value();
  if (!info[3].IsNumber()) throw Napi::TypeError::New(env, "restoreFlags must be a number");
  int restore_flags = info[3].As<Napi::Number>().Int32Value();
  if (!info[4].IsFunction()) throw Napi::TypeError::New(env, "callback must be a function");

  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) throw Napi::Error::New(env, "no event loop");
  Wait* w = new Wait();
  w->env = env;
  w->fd = fd;
  w->restore_flags = restore_flags;
  // A failed uv_poll_init has not touched the flags yet.
  int r = uv_poll_init(loop, &w->poll, fd);
  if (r < 0) {
    delete w;
    throw SystemError(env, -r, "uv_poll_init", "");
  }
  uv_timer_init(loop, &w->timer);
  w->poll.data = w;
  w->timer.data = w;
  w->open_handles = 2;
  w->callback = Napi::Persistent(info[4].As<Napi::Function>());
  w->resource = Napi::Persistent(Napi::Object::New(env));
  if (!keep_alive) {
    uv_unref(reinterpret_cast<uv_handle_t*>(&w->poll));
    uv_unref(reinterpret_cast<uv_handle_t*>(&w->timer));
  }
  Napi::External<Wait> handle = Napi::External<Wait>::New(env, w, FinalizeWait);
  napi_add_env_cleanup_hook(env, CleanupHook, w);
  r = uv_poll_start(&w->poll, UV_READABLE | UV_DISCONNECT, OnPoll);
  if (r < 0) {
    Finish(w, kTeardown);
    throw SystemError(env, -r, "uv_poll_start", "");
  }
  if (timeout >= 0) {
    // The loop's clock is only updated per iteration; after a long stretch
    // of synchronous JS it is stale and the timer would already be due.
    uv_update_time(loop);
    uv_timer_start(&w->timer, OnTimeout, static_cast<uint64_t>(timeout), 0);
  }
  return handle;
}

// cancelWait(handle): a pending wait's callback runs now with -ECANCELED;
// a finished one is left alone.
Napi::Value CancelWait(const Napi::CallbackInfo& info) {
  if (!info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), "cancelWait takes a waitReadable handle");
  Finish(info[0].As<Napi::External<Wait>>().Data(), -ECANCELED);
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("ioctl", Napi::Function::New(env, Ioctl, "ioctl"));
  exports.Set("pread", Napi::Function::New(env, Pread, "pread"));
  exports.Set("pwrite", Napi::Function::New(env, Pwrite, "pwrite"));
  exports.Set("read", Napi::Function::New(env, Read, "read"));
  exports.Set("write", Napi::Function::New(env, Write, "write"));
  exports.Set("eventfd", Napi::Function::New(env, Eventfd, "eventfd"));
  exports.Set("fcntl", Napi::Function::New(env, Fcntl, "fcntl"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("mmap", Napi::Function::New(env, Mmap, "mmap"));
  exports.Set("munmap", Napi::Function::New(env, Munmap, "munmap"));
  exports.Set("waitReadable", Napi::Function::New(env, WaitReadable, "waitReadable"));
  exports.Set("cancelWait", Napi::Function::New(env, CancelWait, "cancelWait"));
  return exports;
}

}  // namespace

NODE_API_MODULE(vfio_display, Init)
