// tests/checkpoint/temp_dir.hpp — a fresh temporary directory that removes itself.
//
//   TempDir dir;                                   // created under the system temp directory
//   nnx::checkpoint::CheckpointManager m(dir.string());
//   dir.path() / "1" / "_COMMIT";                  // a boost::filesystem::path
#pragma once

#include <boost/filesystem.hpp>
#include <string>

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "nnx-test")
      : path_(boost::filesystem::temp_directory_path() / boost::filesystem::unique_path(prefix + "-%%%%-%%%%-%%%%")) {
    boost::filesystem::create_directories(path_);
  }
  ~TempDir() {
    boost::system::error_code ec;
    boost::filesystem::remove_all(path_, ec);  // never throws from a destructor
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const boost::filesystem::path& path() const { return path_; }
  std::string string() const { return path_.string(); }
  // A path below the directory, as a string: dir.file("model.nnxa").
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  boost::filesystem::path path_;
};
