#include "util/files.h"

#include <fcntl.h>
#include <glob.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "util/errors.h"

namespace fs = std::filesystem;

namespace gptforge {

namespace {
// Throws DataError naming `path` when it is a FIFO, a device or a socket: opening a FIFO blocks until
// a writer comes, /dev/zero never ends. Regular files, directories and missing paths pass.
void refuse_special_file(const std::string& path) {
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (ec || !fs::exists(st) || fs::is_regular_file(st) || fs::is_directory(st)) return;
  const char* kind = fs::is_fifo(st) ? "a FIFO" : fs::is_character_file(st) || fs::is_block_file(st) ? "a device"
                     : fs::is_socket(st) ? "a socket" : "a special file";
  throw DataError(path + ": is " + std::string(kind) + ", not a regular file (it could block or never end)");
}

// A regular file opened for binary reading; DataError naming it otherwise.
std::ifstream open_for_reading(const std::string& path) {
  refuse_special_file(path);
  // A directory opens like a file on Linux and reads as nothing: it would pass as an empty file.
  if (fs::is_directory(path)) throw DataError(path + ": is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open (" + (fs::exists(path) ? "permission denied" : "no such file") + ")");
  return in;
}
}  // namespace

void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

void write_file_atomic(const std::string& path, const std::string& content) {
  fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw DataError(path + ": cannot open for writing");
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw DataError(path + ": write failed (disk full?)");
    }
  }
  fsync_path(tmp);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw DataError(path + ": cannot rename temporary file into place (" + std::strerror(err) + ")");
  }
  if (target.has_parent_path()) fsync_path(target.parent_path().string());
}

std::string read_file(const std::string& path) {
  std::ifstream in = open_for_reading(path);
  // Read straight into a string of the file's size: a stringstream would hold the bytes twice.
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  std::string bytes;
  if (!ec) bytes.resize(static_cast<size_t>(size));
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (static_cast<size_t>(in.gcount()) != bytes.size()) throw DataError(path + ": read failed (the file shrank while being read?)");
  // A file that grew since its size was taken (or one that reports no size) is read to its end.
  char block[1 << 16];
  while (in.read(block, sizeof block) || in.gcount() > 0) bytes.append(block, static_cast<size_t>(in.gcount()));
  return bytes;
}

uint64_t fnv1a64_file(const std::string& path) {
  std::ifstream in = open_for_reading(path);
  std::vector<char> block(size_t(1) << 20);
  uint64_t hash = kFnvOffset;
  while (in.read(block.data(), static_cast<std::streamsize>(block.size())) || in.gcount() > 0) {
    hash = fnv1a64(block.data(), static_cast<size_t>(in.gcount()), hash);
  }
  if (in.bad()) throw DataError(path + ": read failed");
  return hash;
}

std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const auto& in : inputs) {
    std::vector<std::string> found;
    if (in.find_first_of("*?[") != std::string::npos) {
      glob_t g{};
      if (::glob(in.c_str(), 0, nullptr, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; ++i) {
          if (fs::is_regular_file(g.gl_pathv[i])) found.emplace_back(g.gl_pathv[i]);
        }
      }
      globfree(&g);
    } else if (fs::is_directory(in)) {
      for (const auto& e : fs::recursive_directory_iterator(in)) {
        if (e.is_regular_file() && e.path().filename().string()[0] != '.') found.push_back(e.path().string());
      }
    } else if (fs::exists(in)) {
      refuse_special_file(in);
      found.push_back(in);
    } else {
      throw DataError(in + ": no such file or directory");
    }
    if (found.empty()) throw DataError(in + ": matches no files");
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

uint64_t fnv1a64(const void* data, size_t size, uint64_t hash) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) {
    hash ^= p[i];
    hash *= 1099511628211ull;
  }
  return hash;
}

int hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

}  // namespace gptforge
