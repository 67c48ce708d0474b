#include "train/launch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>

#include "util/errors.h"
#include "util/log.h"
#include "util/stop_signals.h"

extern char** environ;

namespace gptforge {

int free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw RunError(std::string("launch: socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  if (port <= 0) throw RunError("launch: found no free TCP port on 127.0.0.1; pass --master-port");
  return port;
}

namespace {

const char* kRankVars[] = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"};

// This process's environment without the variables the launcher sets, then those for `rank`.
std::vector<std::string> child_environment(int rank, int nproc, int port) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    std::string key = kv.substr(0, kv.find('='));
    bool ours = false;
    for (const char* v : kRankVars) ours = ours || key == v;
    if (!ours) env.push_back(kv);
  }
  env.push_back("RANK=" + std::to_string(rank));
  env.push_back("LOCAL_RANK=" + std::to_string(rank));
  env.push_back("WORLD_SIZE=" + std::to_string(nproc));
  env.push_back("LOCAL_WORLD_SIZE=" + std::to_string(nproc));
  env.push_back("MASTER_ADDR=127.0.0.1");
  env.push_back("MASTER_PORT=" + std::to_string(port));
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::string describe_status(int status) {
  if (WIFSIGNALED(status)) {
    return strprintf("was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
  }
  return strprintf("exited with status %d", WEXITSTATUS(status));
}

}  // namespace

int launch_local(const LaunchOptions& opts) {
  if (opts.nproc < 1) throw UsageError("launch: --nproc must be at least 1");
  if (opts.command.empty() || (opts.command[0] != "train" && opts.command[0] != "sft")) {
    throw UsageError("launch: give the command to run after `--`: gptforge launch --nproc N -- train|sft [options]");
  }
  const int port = opts.master_port > 0 ? opts.master_port : free_tcp_port();
  log_info(strprintf("launch: %d processes of `gptforge %s`, rendezvous at 127.0.0.1:%d", opts.nproc,
                     opts.command[0].c_str(), port));

  // Everything the children need is built before fork: after it, only exec-safe calls.
  std::vector<std::string> args = {"gptforge"};
  args.insert(args.end(), opts.command.begin(), opts.command.end());
  std::vector<char*> argv = c_strings(args);
  std::vector<std::vector<std::string>> envs;
  std::vector<std::vector<char*>> envps;
  for (int r = 0; r < opts.nproc; ++r) envs.push_back(child_environment(r, opts.nproc, port));
  for (auto& e : envs) envps.push_back(c_strings(e));

  // The launcher takes SIGCHLD synchronously (sigtimedwait below); SIGINT and SIGTERM reach it on
  // util/stop_signals.h's waiting thread, which notes them and wakes the loop with a SIGCHLD.
  sigset_t watched, previous;
  sigemptyset(&watched);
  sigaddset(&watched, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &watched, &previous);
  std::atomic<int> stop_signal{0};
  const pthread_t loop_thread = pthread_self();
  SignalScope pass_on([&](int sig) {
    stop_signal = sig;
    pthread_kill(loop_thread, SIGCHLD);
  });

  const pid_t launcher = ::getpid();
  std::map<pid_t, int> rank_of;  // live children
  auto signal_all = [&](int sig) {
    for (const auto& [pid, r] : rank_of) ::kill(pid, sig);
  };
  for (int r = 0; r < opts.nproc; ++r) {
    pid_t pid = ::fork();
    if (pid < 0) {
      int err = errno;
      signal_all(SIGKILL);
      pthread_sigmask(SIG_SETMASK, &previous, nullptr);
      throw RunError(strprintf("launch: fork failed: %s", std::strerror(err)));
    }
    if (pid == 0) {
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != launcher) _exit(128 + SIGTERM);  // the launcher died already
      // SIGINT and SIGTERM stay blocked through exec (gptforge's own waiting thread takes them
      // there): unblocked here, one would run this process's handler in a child without its threads.
      sigprocmask(SIG_SETMASK, &previous, nullptr);
      ::execve("/proc/self/exe", argv.data(), envps[static_cast<size_t>(r)].data());
      const char msg[] = "gptforge: error: launch: cannot execute /proc/self/exe\n";
      ssize_t ignored = ::write(2, msg, sizeof(msg) - 1);
      (void)ignored;
      _exit(127);
    }
    rank_of[pid] = r;
  }

  using clock = std::chrono::steady_clock;
  int result = 0;
  bool failed = false;
  clock::time_point kill_at{};
  while (!rank_of.empty()) {
    timespec wait_for{0, 200 * 1000 * 1000};
    siginfo_t info;
    sigtimedwait(&watched, &info, &wait_for);
    if (int sig = stop_signal.exchange(0); sig != 0) {
      // Passed on once per signal: the ranks agree to checkpoint and stop (a second one stops them at once).
      log_info(strprintf("launch: passing %s on to %zu process(es)", strsignal(sig), rank_of.size()));
      signal_all(sig);
    }
    // Reap whatever exited. Of several failures seen at once, one killed by a signal is most likely
    // the cause (the others then lost their peer), so that one is reported.
    struct Exit {
      pid_t pid;
      int rank, status;
    };
    std::vector<Exit> failures;
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      auto it = rank_of.find(pid);
      if (it == rank_of.end()) continue;
      if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) failures.push_back({pid, it->second, status});
      rank_of.erase(it);
    }
    if (!failures.empty() && !failed) {
      auto first = std::find_if(failures.begin(), failures.end(), [](const Exit& e) { return WIFSIGNALED(e.status); });
      const Exit& f = first != failures.end() ? *first : failures.front();
      failed = true;
      result = WIFSIGNALED(f.status) ? 128 + WTERMSIG(f.status) : WEXITSTATUS(f.status);
      std::fprintf(stderr, "gptforge: error: launch: rank %d (pid %d) %s; stopping the other %zu process(es)\n", f.rank,
                   static_cast<int>(f.pid), describe_status(f.status).c_str(), rank_of.size());
      signal_all(SIGTERM);
      kill_at = clock::now() + std::chrono::milliseconds(static_cast<int64_t>(opts.grace_s * 1000));
    }
    if (failed && !rank_of.empty() && clock::now() >= kill_at) {
      std::fprintf(stderr, "gptforge: error: launch: %zu process(es) still running %gs after the failure: killing them\n",
                   rank_of.size(), opts.grace_s);
      signal_all(SIGKILL);
      kill_at = clock::now() + std::chrono::hours(1);
    }
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return result;
}

}  // namespace gptforge
