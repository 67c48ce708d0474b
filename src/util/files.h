// File helpers shared by every stage that writes outputs: nothing half-written is ever left under
// a final name.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gptforge {

// Writes to PATH.tmp.<pid>, fsyncs, then renames over PATH (atomic on POSIX filesystems).
void write_file_atomic(const std::string& path, const std::string& content);
// Reads a whole file; throws DataError naming the file when it cannot.
std::string read_file(const std::string& path);
// fsync on a file or directory path; best effort for directories.
void fsync_path(const std::string& path);
// Expands files, directories (recursively, sorted) and globs into a sorted list of regular files.
// Throws DataError naming the first entry that matches nothing.
std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs);
// FNV-1a, 64-bit: a fast checksum for shards and checkpoint files (detects truncation and bit rot,
// not tampering). Pass the previous result as `hash` to continue over several buffers.
constexpr uint64_t kFnvOffset = 14695981039346656037ull;
uint64_t fnv1a64(const void* data, size_t size, uint64_t hash = kFnvOffset);
// fnv1a64 of a whole file, read a block at a time (a checkpoint's files may be larger than the
// memory left); throws DataError naming the file when it cannot be read.
uint64_t fnv1a64_file(const std::string& path);

// Number of CPU cores this process may use.
int hardware_threads();

}  // namespace gptforge
