// `gptforge launch`: the processes of one distributed run on this machine (what torchrun does for
// Python): N copies of this executable, each told its place through the environment that
// train/distributed.h reads.
#pragma once
#include <string>
#include <vector>

namespace gptforge {

struct LaunchOptions {
  int nproc = 1;
  int master_port = 0;               // 0: a port that is free now
  std::vector<std::string> command;  // every process's gptforge arguments: train ... or sft ...
  double grace_s = 30;               // after a failure, how long the others get before SIGKILL
};

// Starts nproc processes of /proc/self/exe with RANK = LOCAL_RANK = 0..nproc-1, WORLD_SIZE =
// LOCAL_WORLD_SIZE = nproc, MASTER_ADDR=127.0.0.1 and MASTER_PORT, each in its own process group
// (a terminal's Ctrl-C reaches the launcher only, which passes it on once) and set to get SIGTERM
// should the launcher die. Forwards SIGINT and SIGTERM to them and waits. When one fails (non-zero
// exit or a signal), says which rank, sends the others SIGTERM and after grace_s SIGKILL, and
// returns that rank's status (128 + signal for a signal). Returns 0 when every process succeeded.
int launch_local(const LaunchOptions& opts);

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick for port 0).
int free_tcp_port();

}  // namespace gptforge
