#include "train/distributed.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include <c10/util/Logging.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

// Gloo is the CPU backend; NCCL the CUDA one. Each compiles only where LibTorch was built with it
// and ships its headers, so a CPU build never needs NCCL.
// c10d::Work has a header of its own from LibTorch 2.x on (1.13 declares it with ProcessGroup).
#if __has_include(<torch/csrc/distributed/c10d/Work.hpp>)
#include <torch/csrc/distributed/c10d/Work.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif
#if defined(USE_C10D_GLOO) && __has_include(<gloo/config.h>)
#define GPTFORGE_HAVE_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(GPTFORGE_WITH_CUDA) && defined(USE_C10D_NCCL) && __has_include(<nccl.h>)
#define GPTFORGE_HAVE_NCCL 1
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "util/errors.h"
#include "util/log.h"
#include "util/runtime.h"

namespace gptforge {

// ---- The environment ----------------------------------------------------------------------------

namespace {

// A whole non-negative decimal number, or -1.
int64_t parse_count(const std::string& s) {
  if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), ::isdigit)) return -1;
  return std::stoll(s);
}

}  // namespace

DistEnv read_dist_env(const std::function<const char*(const char*)>& getenv_fn) {
  auto get = [&](const char* name) -> std::string {
    const char* v = getenv_fn ? getenv_fn(name) : std::getenv(name);
    return v ? std::string(v) : std::string();
  };
  auto number = [&](const char* name, int64_t fallback, int64_t lo, int64_t hi) -> int64_t {
    std::string s = get(name);
    if (s.empty()) return fallback;
    int64_t v = parse_count(s);
    if (v < lo || v > hi) {
      throw UsageError(strprintf("environment: %s='%s' must be a whole number from %lld to %lld", name, s.c_str(),
                                 (long long)lo, (long long)hi));
    }
    return v;
  };
  DistEnv env;
  env.world_size = static_cast<int>(number("WORLD_SIZE", 1, 1, 1 << 20));
  if (env.world_size == 1) return env;
  if (get("RANK").empty()) throw UsageError("environment: WORLD_SIZE is set but RANK is not");
  env.rank = static_cast<int>(number("RANK", 0, 0, env.world_size - 1));
  env.local_world_size = static_cast<int>(number("LOCAL_WORLD_SIZE", 1, 1, env.world_size));
  env.local_rank = static_cast<int>(number("LOCAL_RANK", 0, 0, env.world_size - 1));
  env.master_addr = get("MASTER_ADDR");
  if (env.master_addr.empty()) {
    throw UsageError("environment: WORLD_SIZE > 1 needs MASTER_ADDR (the address of the machine running rank 0)");
  }
  if (get("MASTER_PORT").empty()) throw UsageError("environment: WORLD_SIZE > 1 needs MASTER_PORT");
  env.master_port = static_cast<int>(number("MASTER_PORT", 0, 1, 65535));
  return env;
}

// ---- Process groups ---------------------------------------------------------------------------

namespace {

// The collectives the trainer uses, over whichever process group class this LibTorch has (their
// common base differs between LibTorch 1.13 and 2.x, so a small wrapper spans both).
class Group {
 public:
  virtual ~Group() = default;
  virtual c10::intrusive_ptr<c10d::Work> broadcast(std::vector<at::Tensor>& t) = 0;
  virtual c10::intrusive_ptr<c10d::Work> allreduce(std::vector<at::Tensor>& t, c10d::ReduceOp op) = 0;
  virtual c10::intrusive_ptr<c10d::Work> allgather(std::vector<std::vector<at::Tensor>>& out,
                                                   std::vector<at::Tensor>& in) = 0;
  // Gloo's waits take a deadline; NCCL's wait only orders streams (its watchdog enforces timeouts).
  virtual bool wait_with_deadline() const = 0;
};

template <class PG>
class GroupOf : public Group {
 public:
  GroupOf(c10::intrusive_ptr<PG> pg, bool deadline) : pg_(std::move(pg)), deadline_(deadline) {}
  c10::intrusive_ptr<c10d::Work> broadcast(std::vector<at::Tensor>& t) override {
    c10d::BroadcastOptions o;
    o.rootRank = 0;
    return pg_->broadcast(t, o);
  }
  c10::intrusive_ptr<c10d::Work> allreduce(std::vector<at::Tensor>& t, c10d::ReduceOp op) override {
    c10d::AllreduceOptions o;
    o.reduceOp = op;
    return pg_->allreduce(t, o);
  }
  c10::intrusive_ptr<c10d::Work> allgather(std::vector<std::vector<at::Tensor>>& out,
                                           std::vector<at::Tensor>& in) override {
    return pg_->allgather(out, in);
  }
  bool wait_with_deadline() const override { return deadline_; }

 private:
  c10::intrusive_ptr<PG> pg_;
  bool deadline_;
};

// c10d and Gloo log connection trouble to stderr through glog or c10's logger, several lines per
// failure. The errors reach the user as exceptions anyway (one line each, see describe_failure), so
// below debug level those logs are silenced: glog's minloglevel, looked up at run time as only
// glog builds (Debian's) have it, and c10's own level otherwise.
void quiet_c10_logging() {
  if (log_level() == LogLevel::Debug) return;
  FLAGS_caffe2_log_level = 3;  // c10's logger: fatal only
  if (auto* glog_min = static_cast<int*>(dlsym(RTLD_DEFAULT, "_ZN3fLI17FLAGS_minloglevelE"))) *glog_min = 3;
}

// One line: no source-location prefixes, no newlines.
std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  // Gloo prefixes "[path/to/file.cc:123] ".
  while (!s.empty() && s[0] == '[') {
    auto close = s.find("] ");
    if (close == std::string::npos || s.find(':', 0) > close) break;
    s.erase(0, close + 2);
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

bool contains(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

bool is_loopback(const std::string& addr) {
  return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1";
}

// The local address this machine uses to reach `host`: a UDP socket "connected" there (which sends
// nothing) shows the interface the kernel picked. "" when that cannot be told.
std::string local_address_towards(const std::string& host, int port) {
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_DGRAM;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res) return "";
  std::string out;
  int fd = ::socket(res->ai_family, SOCK_DGRAM, 0);
  if (fd >= 0 && ::connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
    sockaddr_storage local{};
    socklen_t len = sizeof(local);
    char buf[INET6_ADDRSTRLEN] = {0};
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
      const void* a = local.ss_family == AF_INET ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&local)->sin_addr)
                                                 : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr);
      if (inet_ntop(local.ss_family, a, buf, sizeof(buf))) out = buf;
    }
  }
  if (fd >= 0) ::close(fd);
  freeaddrinfo(res);
  return out;
}

}  // namespace

struct Distributed::Impl {
  struct Bucket {
    std::vector<size_t> params;    // indices into the parameter list
    std::vector<int64_t> offsets;  // where each starts in `flat`
    torch::Tensor flat;
  };

  c10::intrusive_ptr<c10d::Store> store;
  std::unique_ptr<Group> group;
  std::string backend = "none";
  torch::Device comm_device = torch::kCPU;  // where collectives' tensors must live
  std::chrono::milliseconds timeout{0};
  int64_t bucket_bytes = 25 << 20;
  std::vector<Bucket> buckets;
  std::vector<torch::Tensor> bucketed;  // the parameters the buckets were planned for
  int rank = 0, world_size = 1;
  std::string where;  // MASTER_ADDR:MASTER_PORT

  void start_up(const DistEnv& env, torch::Device device);

  ~Impl() {
    group.reset();  // the process group before the store it rendezvoused through
    store.reset();
  }

  // A one-line explanation of a failed distributed operation, naming this rank and the likely cause.
  std::string describe_failure(const std::string& what, const std::string& raw) const {
    std::string msg = one_line(raw);
    std::string peer = world_size == 2 ? strprintf("rank %d", 1 - rank) : std::string("another rank");
    std::string cause;
    if (contains(msg, "closed by peer") || contains(msg, "reset by peer") || contains(msg, "Broken pipe") ||
        contains(msg, "Connection closed") || contains(msg, "EOF")) {
      cause = "lost the connection to " + peer + " (it exited or was killed; its own error, if any, says why)";
    } else if (contains(msg, "imed out") || contains(msg, "imeout")) {
      cause = strprintf("no answer from %s within run.dist_timeout=%gs (a rank hangs or died, or the network is down)",
                        peer.c_str(), timeout.count() / 1000.0);
    } else if (what.rfind("start-up", 0) == 0) {
      cause = "failed: is " + where + " (MASTER_ADDR:MASTER_PORT) where rank 0 of this run listens?";
    } else {
      cause = "failed";
    }
    return strprintf("distributed %s on rank %d of %d: %s [%s]", what.c_str(), rank, world_size, cause.c_str(),
                     msg.c_str());
  }

  template <class F>
  auto guarded(const std::string& what, F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const Error&) {
      throw;
    } catch (const c10::Error& e) {
      throw RunError(describe_failure(what, e.what_without_backtrace()));
    } catch (const std::exception& e) {
      throw RunError(describe_failure(what, e.what()));
    }
  }

  void wait(const c10::intrusive_ptr<c10d::Work>& work) {
    // Gloo gives up after `timeout` by itself; the deadline here is a second guard.
    if (group->wait_with_deadline()) {
      work->wait(timeout + std::chrono::seconds(5));
    } else {
      work->wait();
    }
  }

  void run(const std::string& what, const std::function<c10::intrusive_ptr<c10d::Work>()>& launch) {
    guarded(what, [&] { wait(launch()); });
  }

  // Reduces t over the ranks in place, through a contiguous copy on the communication device.
  void reduce(torch::Tensor& t, c10d::ReduceOp op, const char* what) {
    torch::Tensor staged = t.device() == comm_device && t.is_contiguous() ? t : t.to(comm_device).contiguous();
    run(what, [&] {
      std::vector<at::Tensor> one{staged};
      return group->allreduce(one, op);
    });
    if (!staged.is_same(t)) t.copy_(staged);
  }
};

Distributed::Distributed() : impl_(std::make_unique<Impl>()) {}

Distributed::~Distributed() = default;

// LibTorch 2.x's TCPStore defaults to a libuv server that Debian's builds are made without (every
// rendezvous then fails); the classic server exists in every version. 1.13 has no such option.
template <typename Options>
auto store_without_libuv(Options& o, int) -> decltype(o.useLibUV = false, void()) {
  o.useLibUV = false;
}
template <typename Options>
void store_without_libuv(Options&, long) {}

// Rendezvous and process group: fills store, group, backend and comm_device.
void Distributed::Impl::start_up(const DistEnv& env, torch::Device device) {
  const double secs = timeout.count() / 1000.0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;

  // ---- Rendezvous: rank 0 serves a TCPStore; everyone connects and counts themselves in ----
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(env.master_port);
  so.isServer = env.rank == 0;
  so.numWorkers = env.world_size;
  so.waitWorkers = false;  // counted below, with a clearer message than the store's own
  so.timeout = timeout;
  store_without_libuv(so, 0);
  // The store's client retries a refused connection by itself, but gives up at once when less than
  // its back-off delay (about a second) is left; retried here until the deadline.
  while (!store) {
    try {
      store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
    } catch (const std::exception& e) {
      const std::string raw = one_line(e.what());
      if (env.rank == 0 && contains(raw, "bind")) {
        throw RunError(strprintf("distributed start-up: rank 0 cannot listen on MASTER_PORT=%d (%s); pick another port",
                                 env.master_port, raw.c_str()));
      }
      if (std::chrono::steady_clock::now() + std::chrono::milliseconds(100) >= deadline) {
        throw RunError(strprintf("distributed start-up: rank %d cannot reach rank 0 at %s (MASTER_ADDR:MASTER_PORT) "
                                 "within run.dist_timeout=%gs: wrong address or port, rank 0 not started, or a "
                                 "firewall [%s]",
                                 env.rank, where.c_str(), secs, raw.c_str()));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      so.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    }
  }
  so.timeout = timeout;
  guarded("start-up", [&] {
    store->add("gptforge/joined", 1);
    while (true) {
      int64_t joined = store->add("gptforge/joined", 0);
      if (joined >= env.world_size) break;
      if (std::chrono::steady_clock::now() > deadline) {
        throw RunError(strprintf("distributed start-up: only %lld of %d processes reached the rendezvous at %s within "
                                 "run.dist_timeout=%gs (WORLD_SIZE wrong, or a rank failed to start)",
                                 (long long)joined, env.world_size, where.c_str(), secs));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  auto prefixed = c10::make_intrusive<c10d::PrefixStore>("gptforge/pg", store);

  // ---- The process group ----
#ifdef GPTFORGE_HAVE_NCCL
  if (device.is_cuda()) {
    c10::cuda::set_device(static_cast<c10::DeviceIndex>(device.index()));
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = timeout;
    guarded("start-up (NCCL)", [&] {
      group = std::make_unique<GroupOf<c10d::ProcessGroupNCCL>>(
          c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, env.rank, env.world_size, opts), false);
    });
    backend = "nccl";
    comm_device = device;
    return;
  }
#endif
#ifdef GPTFORGE_HAVE_GLOO
  guarded("start-up (Gloo)", [&] {
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    // GLOO_SOCKET_IFNAME names the interface, as in PyTorch; otherwise the address this machine
    // uses to reach MASTER_ADDR (loopback for a single machine).
    const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
    std::string local = is_loopback(env.master_addr) ? "127.0.0.1"
                                                      : local_address_towards(env.master_addr, env.master_port);
    if (ifname && *ifname) {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    } else if (!local.empty()) {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(local));
    } else {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    group = std::make_unique<GroupOf<c10d::ProcessGroupGloo>>(
        c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, env.rank, env.world_size, opts), true);
  });
  backend = "gloo";
  comm_device = torch::kCPU;
#else
  throw RunError("distributed: this LibTorch has no Gloo backend (built without USE_C10D_GLOO or its headers)");
#endif
}

Distributed::Distributed(const DistEnv& env, torch::Device device, std::chrono::milliseconds timeout,
                         int64_t bucket_bytes)
    : env_(env), device_(device), impl_(std::make_unique<Impl>()) {
  auto configure = [&](Impl& m) {
    m.rank = env.rank;
    m.world_size = env.world_size;
    m.timeout = timeout;
    m.bucket_bytes = std::max<int64_t>(bucket_bytes, 1);
    m.where = strprintf("%s:%d", env.master_addr.c_str(), env.master_port);
  };
  configure(*impl_);
  if (env.world_size == 1) return;
  quiet_c10_logging();
#ifdef GPTFORGE_HAVE_NCCL
  if (device.is_cuda()) {
    c10::cuda::set_device(static_cast<c10::DeviceIndex>(device.index()));
    // A collective that outlives the timeout tears the process down (NCCL itself would wait forever).
    if (!std::getenv("TORCH_NCCL_ASYNC_ERROR_HANDLING") && !std::getenv("NCCL_ASYNC_ERROR_HANDLING")) {
      ::setenv("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1", 0);
    }
  }
#endif

  // Start-up runs on a helper thread: c10d's store client waits without a deadline for the reply
  // of a peer that accepted the connection (a hung rank 0, or another program at MASTER_PORT), and
  // that must fail within the timeout too. Given up on, the thread ends by itself later.
  struct Startup {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::exception_ptr error;
    std::unique_ptr<Impl> impl = std::make_unique<Impl>();
  };
  auto st = std::make_shared<Startup>();
  configure(*st->impl);
  std::thread([st, env, device] {
    std::exception_ptr error;
    try {
      st->impl->start_up(env, device);
    } catch (...) {
      error = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(st->mu);
    st->error = error;
    st->done = true;
    st->cv.notify_all();
  }).detach();
  std::unique_lock<std::mutex> lock(st->mu);
  const auto grace = std::min<std::chrono::milliseconds>(timeout / 2, std::chrono::seconds(5));
  if (!st->cv.wait_for(lock, timeout + grace, [&] { return st->done; })) {
    throw RunError(strprintf("distributed start-up: rank %d got no complete answer from rank 0 at %s "
                             "(MASTER_ADDR:MASTER_PORT) within run.dist_timeout=%gs: rank 0 hangs, or another program "
                             "listens there",
                             env.rank, impl_->where.c_str(), timeout.count() / 1000.0));
  }
  if (st->error) std::rethrow_exception(st->error);
  impl_ = std::move(st->impl);
}

std::shared_ptr<Distributed> Distributed::from_environment(const RunConfig& run) {
  DistEnv env = read_dist_env();
  if (env.world_size == 1) return std::make_shared<Distributed>();
  torch::Device device = resolve_device(run.device);
  if (device.is_cuda()) {
    int64_t gpus = static_cast<int64_t>(torch::cuda::device_count());
    if (env.local_rank >= gpus) {
      throw UsageError(strprintf("environment: LOCAL_RANK=%d, but this machine has %lld GPU(s): start at most one "
                                 "process per GPU",
                                 env.local_rank, (long long)gpus));
    }
    device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank));
  }
  auto timeout = std::chrono::milliseconds(static_cast<int64_t>(run.dist_timeout * 1000));
  return std::make_shared<Distributed>(env, device, timeout);
}

std::string Distributed::backend() const { return impl_->backend; }

// ---- Collectives ----------------------------------------------------------------------------------

void Distributed::broadcast(const std::vector<torch::Tensor>& tensors) {
  if (!active()) return;
  torch::NoGradGuard no_grad;
  Impl& m = *impl_;
  // Each tensor through a contiguous copy on the communication device, then back.
  std::vector<torch::Tensor> staged;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  m.guarded("broadcast of the parameters", [&] {
    for (const auto& t : tensors) {
      staged.push_back(t.detach().to(m.comm_device).contiguous());
      std::vector<at::Tensor> one{staged.back()};
      works.push_back(m.group->broadcast(one));
    }
    for (auto& w : works) m.wait(w);
  });
  for (size_t i = 0; i < tensors.size(); ++i) tensors[i].detach().copy_(staged[i]);
}

void Distributed::all_reduce_gradients(const std::vector<torch::Tensor>& params, bool average) {
  if (!active()) return;
  torch::NoGradGuard no_grad;
  Impl& m = *impl_;

  // Plan the buckets once: consecutive parameters of one dtype, up to bucket_bytes each (a larger
  // parameter gets a bucket of its own).
  bool same = m.bucketed.size() == params.size();
  for (size_t i = 0; same && i < params.size(); ++i) same = m.bucketed[i].is_same(params[i]);
  if (!same) {
    m.buckets.clear();
    m.bucketed = params;
    int64_t bytes = 0;
    for (size_t i = 0; i < params.size(); ++i) {
      const auto& p = params[i];
      int64_t b = p.numel() * static_cast<int64_t>(p.element_size());
      if (m.buckets.empty() || bytes + b > m.bucket_bytes ||
          m.buckets.back().flat.scalar_type() != p.scalar_type()) {
        m.buckets.emplace_back();
        m.buckets.back().flat = torch::empty({0}, torch::TensorOptions().dtype(p.scalar_type()));
        bytes = 0;
      }
      Impl::Bucket& bk = m.buckets.back();
      bk.offsets.push_back(bk.params.empty() ? 0 : bk.offsets.back() + params[bk.params.back()].numel());
      bk.params.push_back(i);
      bytes += b;
    }
    for (auto& bk : m.buckets) {
      int64_t n = bk.offsets.back() + params[bk.params.back()].numel();
      bk.flat = torch::empty({n}, torch::TensorOptions().dtype(bk.flat.scalar_type()).device(m.comm_device));
    }
  }

  // Flatten, reduce every bucket (all in flight at once), then copy back.
  m.guarded("all-reduce of the gradients", [&] {
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    for (auto& bk : m.buckets) {
      for (size_t j = 0; j < bk.params.size(); ++j) {
        const auto& p = params[bk.params[j]];
        torch::Tensor slot = bk.flat.narrow(0, bk.offsets[j], p.numel());
        if (p.grad().defined()) {
          slot.copy_(p.grad().reshape({-1}));
        } else {
          slot.zero_();
        }
      }
      std::vector<at::Tensor> one{bk.flat};
      works.push_back(m.group->allreduce(one, c10d::ReduceOp::SUM));
    }
    for (auto& w : works) m.wait(w);
  });
  for (auto& bk : m.buckets) {
    if (average) bk.flat.div_(env_.world_size);
    for (size_t j = 0; j < bk.params.size(); ++j) {
      const auto& p = params[bk.params[j]];
      torch::Tensor slot = bk.flat.narrow(0, bk.offsets[j], p.numel()).view(p.sizes());
      if (p.grad().defined()) {
        p.grad().copy_(slot);
      } else {
        p.mutable_grad() = slot.to(p.device()).clone();
      }
    }
  }
}

void Distributed::all_reduce_sum(torch::Tensor& t) {
  if (active()) impl_->reduce(t, c10d::ReduceOp::SUM, "all-reduce");
}

void Distributed::all_reduce_max(torch::Tensor& t) {
  if (active()) impl_->reduce(t, c10d::ReduceOp::MAX, "all-reduce");
}

double Distributed::sum(double v) {
  if (!active()) return v;
  torch::Tensor t = torch::full({1}, v, torch::TensorOptions().dtype(torch::kFloat64).device(impl_->comm_device));
  impl_->reduce(t, c10d::ReduceOp::SUM, "all-reduce");
  return t.item<double>();
}

int64_t Distributed::sum(int64_t v) {
  if (!active()) return v;
  torch::Tensor t = torch::full({1}, v, torch::TensorOptions().dtype(torch::kInt64).device(impl_->comm_device));
  impl_->reduce(t, c10d::ReduceOp::SUM, "all-reduce");
  return t.item<int64_t>();
}

bool Distributed::any(bool flag) { return sum(static_cast<int64_t>(flag)) > 0; }

void Distributed::barrier() { sum(int64_t(0)); }

std::vector<std::string> Distributed::all_gather(const std::string& mine) {
  if (!active()) return {mine};
  Impl& m = *impl_;
  // Fixed-size buffers: the longest string decides the size; each starts with its length.
  torch::Tensor longest = torch::full({1}, static_cast<int64_t>(mine.size()),
                                      torch::TensorOptions().dtype(torch::kInt64).device(m.comm_device));
  m.reduce(longest, c10d::ReduceOp::MAX, "all-gather");
  const int64_t n = longest.item<int64_t>() + 8;
  torch::Tensor buf = torch::zeros({n}, torch::kUInt8);
  int64_t len = static_cast<int64_t>(mine.size());
  std::memcpy(buf.data_ptr<uint8_t>(), &len, 8);
  std::memcpy(buf.data_ptr<uint8_t>() + 8, mine.data(), mine.size());
  std::vector<at::Tensor> in{buf.to(m.comm_device)};
  std::vector<std::vector<at::Tensor>> out(1);
  for (int r = 0; r < env_.world_size; ++r) out[0].push_back(torch::empty({n}, in[0].options()));
  m.run("all-gather", [&] { return m.group->allgather(out, in); });
  std::vector<std::string> result;
  for (const auto& t : out[0]) {
    torch::Tensor c = t.to(torch::kCPU);
    const auto* p = c.data_ptr<uint8_t>();
    int64_t l = 0;
    std::memcpy(&l, p, 8);
    result.emplace_back(reinterpret_cast<const char*>(p) + 8, static_cast<size_t>(l));
  }
  return result;
}

}  // namespace gptforge
