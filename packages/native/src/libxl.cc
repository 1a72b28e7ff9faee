// libxl binding for the `xen` backend: one libxl context per Libxl object, and
// each domain operation on a libuv worker thread, because libxl calls block
// (a save runs for as long as the guest's memory takes to stream).
//
// The calls follow what xl does (tools/xl/xl_saverestore.c, xl_vmcontrol.c):
// a save is libxl_domain_suspend to a file descriptor; a checkpoint then
// resumes the guest co-operatively (libxl_domain_resume with suspend_cancel);
// a failed save also resumes it, so a guest is never left suspended by an
// error. A restore parses the domain config JSON that the xl save header
// carries and calls libxl_domain_create_restore on the libxl stream.
//
// Without a hypervisor every call fails with XF_XEN_UNAVAILABLE and the reason
// libxl gave; nothing is ever simulated here.

#include <signal.h>
#include <uv.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

extern "C" {
#include <libxl.h>
#include <libxl_utils.h>
#include <xentoollog.h>
}

#include "args.h"
#include "kernels.h"
#include "libxl_common.h"

namespace xf {
namespace {

// ---- logging -------------------------------------------------------------
// libxl and the libraries under it log failures (for instance "cannot open
// libxc handle") rather than return them. A quiet logger keeps that off
// stderr and collects the errors of the current call on the current thread,
// to be put in the JS error. Synchronous libxl calls run their events on the
// calling thread, so the messages of one call land in its own buffer.

thread_local std::string t_log;
constexpr size_t kMaxLog = 4096;

void LogMessage(xentoollog_logger*, xentoollog_level level, int errnoval, const char*,
                const char* format, va_list args) {
  if (level < XTL_ERROR || t_log.size() >= kMaxLog) return;
  char text[512];
  std::vsnprintf(text, sizeof text, format, args);
  if (!t_log.empty()) t_log += "; ";
  t_log += text;
  if (errnoval >= 0) {
    char buffer[128];
    t_log += ": ";
    t_log += strerror_r(errnoval, buffer, sizeof buffer);
  }
}

void LogProgress(xentoollog_logger*, const char*, const char*, int, unsigned long,
                 unsigned long) {}

void LogDestroy(xentoollog_logger*) {}

// Stateless, so one instance serves every context.
xentoollog_logger g_logger = {LogMessage, LogProgress, LogDestroy};

// ---- context -------------------------------------------------------------

// libxl forks helpers (device scripts, the device model). By default it would
// take over SIGCHLD and reap every child of the process, which breaks Node's
// child_process. In "mainloop" mode it leaves SIGCHLD alone and the
// application tells it when a child may have exited: a libuv signal watcher
// on the main loop calls libxl_childproc_sigchld_occurred, which reaps only
// libxl's own children (libuv reaps only its own too).
const libxl_childproc_hooks* ChildprocHooks() {
  static libxl_childproc_hooks hooks = [] {
    libxl_childproc_hooks h;
    std::memset(&h, 0, sizeof h);
    h.chldowner = libxl_sigchld_owner_mainloop;
    return h;
  }();
  return &hooks;
}

struct Context {
  libxl_ctx* ctx = nullptr;
  uv_signal_t* sigchld = nullptr;

  // Runs on the main thread: the last reference is dropped either by the
  // handle's finalizer, by close, or by a finished worker (deleted on the main thread).
  ~Context() {
    if (sigchld != nullptr) {
      uv_signal_stop(sigchld);
      uv_close(reinterpret_cast<uv_handle_t*>(sigchld),
               [](uv_handle_t* handle) { delete reinterpret_cast<uv_signal_t*>(handle); });
    }
    libxl_ctx_free(ctx);
  }

  void WatchChildren(Napi::Env env) {
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) return;
    sigchld = new uv_signal_t;
    uv_signal_init(loop, sigchld);
    sigchld->data = this;
    uv_signal_start(
        sigchld,
        [](uv_signal_t* handle, int) {
          libxl_childproc_sigchld_occurred(static_cast<Context*>(handle->data)->ctx);
        },
        SIGCHLD);
    // The watcher alone must not keep the process alive.
    uv_unref(reinterpret_cast<uv_handle_t*>(sigchld));
  }
};

// Allocates a context; on failure returns nullptr and the reason.
libxl_ctx* AllocContext(std::string* reason) {
  t_log.clear();
  libxl_ctx* ctx = nullptr;
  const int rc = libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, &g_logger);
  if (rc != 0 || ctx == nullptr) {
    std::string why = HavePrivcmd() ? "no Xen hypervisor available" : NoPrivcmdReason();
    why += ": libxl_ctx_alloc failed (rc " + std::to_string(rc) + ")";
    if (!t_log.empty()) why += ": " + t_log;
    *reason = why;
    return nullptr;
  }
  libxl_childproc_setmode(ctx, ChildprocHooks(), nullptr);
  return ctx;
}

// A JS handle is an External owning a shared_ptr to the Context, type-tagged
// so a foreign External is refused. close() empties the shared_ptr; running
// workers hold their own reference until they finish.
using Holder = std::shared_ptr<Context>;
const napi_type_tag kHolderTag = {0x78656e666c656574ULL, 0x6c6962786c637478ULL};

Napi::Value NewHandle(Napi::Env env, Holder holder) {
  auto external = Napi::External<Holder>::New(env, new Holder(std::move(holder)),
                                              [](Napi::Env, Holder* h) { delete h; });
  napi_type_tag_object(env, external, &kHolderTag);
  return external;
}

bool GetContext(const Napi::CallbackInfo& info, Holder* out) {
  Napi::Env env = info.Env();
  bool tagged = false;
  if (info[0].IsExternal()) napi_check_object_type_tag(env, info[0], &kHolderTag, &tagged);
  if (!tagged) {
    ThrowArgument(env, "not a libxl context handle");
    return false;
  }
  *out = *info[0].As<Napi::External<Holder>>().Data();
  if (!*out) {
    ThrowArgument(env, "the libxl context is closed");
    return false;
  }
  return true;
}

// ---- argument checks -----------------------------------------------------
// Arguments are checked before the context handle, so a bad call is reported
// as such whether or not this host has Xen.

// Guest domain ids run below DOMID_FIRST_RESERVED (0x7ff0).
bool GetDomid(const Napi::CallbackInfo& info, size_t index, uint32_t* out) {
  Napi::Value value = info[index];
  const double d = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 0 && d < 0x7ff0) || d != static_cast<double>(static_cast<uint32_t>(d))) {
    ThrowArgument(info.Env(), "domid must be an integer from 0 to 32751");
    return false;
  }
  *out = static_cast<uint32_t>(d);
  return true;
}

bool GetFd(const Napi::CallbackInfo& info, size_t index, int* out) {
  Napi::Value value = info[index];
  const double d = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 0 && d <= 0x7fffffff) || d != static_cast<double>(static_cast<int>(d))) {
    ThrowArgument(info.Env(), "fd must be an open file descriptor (a non-negative integer)");
    return false;
  }
  *out = static_cast<int>(d);
  return true;
}

bool GetBool(const Napi::CallbackInfo& info, size_t index, const char* name, bool* out) {
  if (!info[index].IsBoolean()) {
    ThrowArgument(info.Env(), std::string(name) + " must be a boolean");
    return false;
  }
  *out = info[index].As<Napi::Boolean>().Value();
  return true;
}

// ---- workers ---------------------------------------------------------------

// One libxl operation on a worker thread. `body` runs there and returns a
// libxl rc, naming the libxl function that failed in *step; `result` runs on
// the main thread afterwards to build the resolved value.
class LibxlCall : public Napi::AsyncWorker {
 public:
  using Body = std::function<int(libxl_ctx*, const char** step)>;
  using Result = std::function<Napi::Value(Napi::Env)>;

  LibxlCall(Napi::Env env, Holder context, const char* op, Body body, Result result)
      : Napi::AsyncWorker(env, op),
        deferred_(Napi::Promise::Deferred::New(env)),
        context_(std::move(context)),
        op_(op),
        body_(std::move(body)),
        result_(std::move(result)) {}

  static Napi::Value Run(Napi::Env env, Holder context, const char* op, Body body,
                         Result result = nullptr) {
    auto* call = new LibxlCall(env, std::move(context), op, std::move(body), std::move(result));
    Napi::Promise promise = call->deferred_.Promise();
    call->Queue();
    return promise;
  }

 protected:
  void Execute() override {
    t_log.clear();
    rc_ = body_(context_->ctx, &step_);
    if (rc_ != 0) log_ = t_log;
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (rc_ == 0) {
      deferred_.Resolve(result_ ? result_(env) : env.Undefined());
      return;
    }
    const char* name = libxl_error_to_string(static_cast<libxl_error>(rc_));
    std::string message = std::string(op_) + ": " + step_ + " failed with " +
                          (name ? name : "libxl error") + " (rc " + std::to_string(rc_) + ")";
    if (!log_.empty()) message += ": " + log_;
    Napi::Error error = CodedError(env, kErrLibxl, message);
    error.Set("op", op_);
    error.Set("step", step_);
    error.Set("rc", Napi::Number::New(env, rc_));
    error.Set("rcName", name ? name : "UNKNOWN");
    deferred_.Reject(error.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Holder context_;
  const char* op_;
  const char* step_ = "";
  Body body_;
  Result result_;
  int rc_ = 0;
  std::string log_;
};

class OpenWorker : public Napi::AsyncWorker {
 public:
  explicit OpenWorker(Napi::Env env)
      : Napi::AsyncWorker(env, "xenfleet.libxlOpen"), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override { ctx_ = AllocContext(&reason_); }
  void OnOK() override {
    Napi::Env env = Env();
    if (ctx_ == nullptr) {
      deferred_.Reject(CodedError(env, kErrXenUnavailable, reason_).Value());
      return;
    }
    auto context = std::make_shared<Context>();
    context->ctx = ctx_;
    context->WatchChildren(env);
    deferred_.Resolve(NewHandle(env, std::move(context)));
  }

 private:
  Napi::Promise::Deferred deferred_;
  libxl_ctx* ctx_ = nullptr;
  std::string reason_;
};

// ---- domain info -----------------------------------------------------------

struct DomainInfo {
  uint32_t domid = 0;
  std::string name, uuid, type;
  bool running = false, blocked = false, paused = false, shutdown = false, dying = false;
  int shutdownReason = 0;
  uint64_t currentMemKiB = 0, maxMemKiB = 0, cpuTimeNs = 0;
  uint32_t vcpuOnline = 0, vcpuMaxId = 0;
};

DomainInfo Describe(libxl_ctx* ctx, const libxl_dominfo& d) {
  DomainInfo info;
  info.domid = d.domid;
  if (char* name = libxl_domid_to_name(ctx, d.domid)) {
    info.name = name;
    std::free(name);
  }
  char uuid[LIBXL_UUID_FMTLEN + 1];
  std::snprintf(uuid, sizeof uuid, LIBXL_UUID_FMT, LIBXL_UUID_BYTES(d.uuid));
  info.uuid = uuid;
  const char* type = libxl_domain_type_to_string(d.domain_type);
  info.type = type ? type : "unknown";
  info.running = d.running;
  info.blocked = d.blocked;
  info.paused = d.paused;
  info.shutdown = d.shutdown;
  info.dying = d.dying;
  info.shutdownReason = d.shutdown_reason;
  info.currentMemKiB = d.current_memkb;
  info.maxMemKiB = d.max_memkb;
  info.cpuTimeNs = d.cpu_time;
  info.vcpuOnline = d.vcpu_online;
  info.vcpuMaxId = d.vcpu_max_id;
  return info;
}

Napi::Object ToJs(Napi::Env env, const DomainInfo& d) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("domid", d.domid);
  o.Set("name", d.name);
  o.Set("uuid", d.uuid);
  o.Set("type", d.type);
  o.Set("running", d.running);
  o.Set("blocked", d.blocked);
  o.Set("paused", d.paused);
  o.Set("shutdown", d.shutdown);
  o.Set("dying", d.dying);
  o.Set("shutdownReason", d.shutdownReason);
  o.Set("currentMemKiB", static_cast<double>(d.currentMemKiB));
  o.Set("maxMemKiB", static_cast<double>(d.maxMemKiB));
  o.Set("cpuTimeNs", static_cast<double>(d.cpuTimeNs));
  o.Set("vcpuOnline", d.vcpuOnline);
  o.Set("vcpuMaxId", d.vcpuMaxId);
  return o;
}

// ---- exports -----------------------------------------------------------------

// xenProbe() -> {available, reason?}: can this process drive Xen? Synchronous
// and quick: a missing privcmd device answers at once; otherwise a context is
// allocated and freed.
Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  std::string reason;
  libxl_ctx* ctx = HavePrivcmd() ? AllocContext(&reason) : nullptr;
  if (!HavePrivcmd()) reason = NoPrivcmdReason();
  result.Set("available", ctx != nullptr);
  if (ctx == nullptr) result.Set("reason", reason);
  libxl_ctx_free(ctx);
  return result;
}

Napi::Value Open(const Napi::CallbackInfo& info) {
  auto* worker = new OpenWorker(info.Env());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool tagged = false;
  if (info[0].IsExternal()) napi_check_object_type_tag(env, info[0], &kHolderTag, &tagged);
  if (!tagged) {
    ThrowArgument(env, "not a libxl context handle");
    return Napi::Value();
  }
  info[0].As<Napi::External<Holder>>().Data()->reset();
  return env.Undefined();
}

Napi::Value ListDomains(const Napi::CallbackInfo& info) {
  Holder context;
  if (!GetContext(info, &context)) return Napi::Value();
  auto list = std::make_shared<std::vector<DomainInfo>>();
  return LibxlCall::Run(
      info.Env(), context, "listDomains",
      [list](libxl_ctx* ctx, const char** step) {
        *step = "libxl_list_domain";
        int count = 0;
        libxl_dominfo* domains = libxl_list_domain(ctx, &count);
        if (domains == nullptr) return static_cast<int>(ERROR_FAIL);
        for (int i = 0; i < count; i++) list->push_back(Describe(ctx, domains[i]));
        libxl_dominfo_list_free(domains, count);
        return 0;
      },
      [list](Napi::Env env) -> Napi::Value {
        Napi::Array out = Napi::Array::New(env, list->size());
        for (size_t i = 0; i < list->size(); i++) out.Set(i, ToJs(env, (*list)[i]));
        return out;
      });
}

Napi::Value DomainInfoOf(const Napi::CallbackInfo& info) {
  Holder context;
  uint32_t domid;
  if (!GetDomid(info, 1, &domid) || !GetContext(info, &context)) return Napi::Value();
  auto result = std::make_shared<DomainInfo>();
  return LibxlCall::Run(
      info.Env(), context, "domainInfo",
      [result, domid](libxl_ctx* ctx, const char** step) {
        *step = "libxl_domain_info";
        libxl_dominfo d;
        libxl_dominfo_init(&d);
        const int rc = libxl_domain_info(ctx, &d, domid);
        if (rc == 0) *result = Describe(ctx, d);
        libxl_dominfo_dispose(&d);
        return rc;
      },
      [result](Napi::Env env) -> Napi::Value { return ToJs(env, *result); });
}

// The domain config as libxl JSON: what the xl save header carries, and what
// a restore needs.
Napi::Value DomainConfig(const Napi::CallbackInfo& info) {
  Holder context;
  uint32_t domid;
  if (!GetDomid(info, 1, &domid) || !GetContext(info, &context)) return Napi::Value();
  auto json = std::make_shared<std::string>();
  return LibxlCall::Run(
      info.Env(), context, "domainConfig",
      [json, domid](libxl_ctx* ctx, const char** step) {
        libxl_domain_config config;
        libxl_domain_config_init(&config);
        *step = "libxl_retrieve_domain_configuration";
        int rc = libxl_retrieve_domain_configuration(ctx, domid, &config, nullptr);
        if (rc == 0) {
          *step = "libxl_domain_config_to_json";
          char* text = libxl_domain_config_to_json(ctx, &config);
          if (text == nullptr) {
            rc = ERROR_FAIL;
          } else {
            *json = text;
            std::free(text);
          }
        }
        libxl_domain_config_dispose(&config);
        return rc;
      },
      [json](Napi::Env env) -> Napi::Value { return Napi::String::New(env, *json); });
}

// The host's memory and CPUs (libxl_get_physinfo), in pages as Xen counts
// them: what `xl info` reports as total_memory and free_memory.
struct PhysInfo {
  uint64_t totalPages = 0, freePages = 0, scrubPages = 0;
  uint32_t nrCpus = 0, cpuKhz = 0;
};

Napi::Value PhysInfoOf(const Napi::CallbackInfo& info) {
  Holder context;
  if (!GetContext(info, &context)) return Napi::Value();
  auto result = std::make_shared<PhysInfo>();
  return LibxlCall::Run(
      info.Env(), context, "physInfo",
      [result](libxl_ctx* ctx, const char** step) {
        *step = "libxl_get_physinfo";
        libxl_physinfo p;
        libxl_physinfo_init(&p);
        const int rc = libxl_get_physinfo(ctx, &p);
        if (rc == 0) {
          result->totalPages = p.total_pages;
          result->freePages = p.free_pages;
          result->scrubPages = p.scrub_pages;
          result->nrCpus = p.nr_cpus;
          result->cpuKhz = p.cpu_khz;
        }
        libxl_physinfo_dispose(&p);
        return rc;
      },
      [result](Napi::Env env) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("totalPages", static_cast<double>(result->totalPages));
        o.Set("freePages", static_cast<double>(result->freePages));
        o.Set("scrubPages", static_cast<double>(result->scrubPages));
        o.Set("nrCpus", result->nrCpus);
        o.Set("cpuKhz", result->cpuKhz);
        return o;
      });
}

// pause, unpause, resume, destroy: one domid, no result.
using DomainOp = int (*)(libxl_ctx*, uint32_t);

Napi::Value SimpleOp(const Napi::CallbackInfo& info, const char* op, const char* step,
                     DomainOp call) {
  Holder context;
  uint32_t domid;
  if (!GetDomid(info, 1, &domid) || !GetContext(info, &context)) return Napi::Value();
  return LibxlCall::Run(info.Env(), context, op,
                        [domid, step, call](libxl_ctx* ctx, const char** s) {
                          *s = step;
                          return call(ctx, domid);
                        });
}

Napi::Value Pause(const Napi::CallbackInfo& info) {
  return SimpleOp(info, "pause", "libxl_domain_pause",
                  [](libxl_ctx* ctx, uint32_t domid) { return libxl_domain_pause(ctx, domid, nullptr); });
}

Napi::Value Unpause(const Napi::CallbackInfo& info) {
  return SimpleOp(info, "unpause", "libxl_domain_unpause", [](libxl_ctx* ctx, uint32_t domid) {
    return libxl_domain_unpause(ctx, domid, nullptr);
  });
}

// Co-operative resume (suspend_cancel): the guest continues where it was
// suspended, as after `xl save -c`.
Napi::Value Resume(const Napi::CallbackInfo& info) {
  return SimpleOp(info, "resume", "libxl_domain_resume", [](libxl_ctx* ctx, uint32_t domid) {
    return libxl_domain_resume(ctx, domid, 1, nullptr);
  });
}

Napi::Value Destroy(const Napi::CallbackInfo& info) {
  return SimpleOp(info, "destroy", "libxl_domain_destroy", [](libxl_ctx* ctx, uint32_t domid) {
    return libxl_domain_destroy(ctx, domid, nullptr);
  });
}

// libxlSave(h, domid, fd, live, checkpoint): writes the libxl stream (not the
// xl header, which the caller writes first) to fd. A checkpoint resumes the
// guest afterwards; a plain save leaves it suspended for the caller to
// destroy once the image is safely stored, or resume if storing failed.
Napi::Value Save(const Napi::CallbackInfo& info) {
  Holder context;
  uint32_t domid;
  int fd;
  bool live, checkpoint;
  if (!GetDomid(info, 1, &domid) || !GetFd(info, 2, &fd) || !GetBool(info, 3, "live", &live) ||
      !GetBool(info, 4, "checkpoint", &checkpoint) || !GetContext(info, &context)) {
    return Napi::Value();
  }
  return LibxlCall::Run(info.Env(), context, checkpoint ? "checkpoint" : "save",
                        [domid, fd, live, checkpoint](libxl_ctx* ctx, const char** step) {
                          *step = "libxl_domain_suspend";
                          int rc = libxl_domain_suspend(ctx, domid, fd,
                                                        live ? LIBXL_SUSPEND_LIVE : 0, nullptr);
                          if (rc != 0) {
                            // Never leave a guest suspended because its save failed.
                            libxl_domain_resume(ctx, domid, 1, nullptr);
                            return rc;
                          }
                          if (checkpoint) {
                            *step = "libxl_domain_resume";
                            rc = libxl_domain_resume(ctx, domid, 1, nullptr);
                          }
                          return rc;
                        });
}

// libxlRestore(h, fd, configJson, paused, streamVersion) -> domid. Reads a
// libxl stream from fd (positioned after the xl header) into a new domain
// built from configJson; unpauses it unless `paused`.
Napi::Value Restore(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Holder context;
  int fd;
  bool paused;
  if (!GetFd(info, 1, &fd)) return Napi::Value();
  if (!info[2].IsString() || info[2].As<Napi::String>().Utf8Value().empty()) {
    ThrowArgument(env, "configJson must be a non-empty string (libxl domain config JSON)");
    return Napi::Value();
  }
  std::string json = info[2].As<Napi::String>().Utf8Value();
  if (json.find('\0') != std::string::npos) {
    ThrowArgument(env, "configJson must not contain NUL characters");
    return Napi::Value();
  }
  if (!GetBool(info, 3, "paused", &paused)) return Napi::Value();
  const double version = info[4].IsNumber() ? info[4].As<Napi::Number>().DoubleValue() : 0;
  if (version != 1 && version != 2) {
    ThrowArgument(env, "streamVersion must be 1 or 2");
    return Napi::Value();
  }
  if (!GetContext(info, &context)) return Napi::Value();
  const uint32_t streamVersion = static_cast<uint32_t>(version);
  auto domid = std::make_shared<uint32_t>(INVALID_DOMID);
  return LibxlCall::Run(
      env, context, "restore",
      [fd, json, paused, streamVersion, domid](libxl_ctx* ctx, const char** step) {
        libxl_domain_config config;
        libxl_domain_config_init(&config);
        libxl_domain_restore_params params;
        libxl_domain_restore_params_init(&params);
        params.stream_version = streamVersion;
        *step = "libxl_domain_config_from_json";
        int rc = libxl_domain_config_from_json(ctx, &config, json.c_str());
        if (rc == 0) {
          *step = "libxl_domain_create_restore";
          rc = libxl_domain_create_restore(ctx, &config, domid.get(), fd, -1, &params, nullptr,
                                           nullptr);
        }
        if (rc == 0 && !paused) {
          *step = "libxl_domain_unpause";
          rc = libxl_domain_unpause(ctx, *domid, nullptr);
        }
        libxl_domain_restore_params_dispose(&params);
        libxl_domain_config_dispose(&config);
        return rc;
      },
      [domid](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, *domid); });
}

}  // namespace

void InitLibxl(Napi::Env env, Napi::Object exports) {
  exports.Set("libxlBuilt", true);
  exports.Set("xenProbe", Napi::Function::New(env, Probe, "xenProbe"));
  exports.Set("libxlOpen", Napi::Function::New(env, Open, "libxlOpen"));
  exports.Set("libxlClose", Napi::Function::New(env, Close, "libxlClose"));
  exports.Set("libxlListDomains", Napi::Function::New(env, ListDomains, "libxlListDomains"));
  exports.Set("libxlDomainInfo", Napi::Function::New(env, DomainInfoOf, "libxlDomainInfo"));
  exports.Set("libxlDomainConfig", Napi::Function::New(env, DomainConfig, "libxlDomainConfig"));
  exports.Set("libxlPhysInfo", Napi::Function::New(env, PhysInfoOf, "libxlPhysInfo"));
  exports.Set("libxlPause", Napi::Function::New(env, Pause, "libxlPause"));
  exports.Set("libxlUnpause", Napi::Function::New(env, Unpause, "libxlUnpause"));
  exports.Set("libxlResume", Napi::Function::New(env, Resume, "libxlResume"));
  exports.Set("libxlDestroy", Napi::Function::New(env, Destroy, "libxlDestroy"));
  exports.Set("libxlSave", Napi::Function::New(env, Save, "libxlSave"));
  exports.Set("libxlRestore", Napi::Function::New(env, Restore, "libxlRestore"));
}

}  // namespace xf
